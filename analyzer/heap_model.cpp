#include "heap_model.h"

#include <cmath>

namespace memtrace {

namespace {
// Stack ids below this go through the array cache; larger (hostile) ones through the map.
constexpr uint32_t kStackCacheLimit = 1u << 22;
} // namespace

StackStats& HeapModel::stats_of(uint32_t stack_id) {
    if (stack_id >= kStackCacheLimit) return stacks_[stack_id];
    std::vector<StackStats*>& slots = stack_cache_.slots;
    if (stack_id >= slots.size()) slots.resize(stack_id + 1 + stack_id / 2);
    StackStats*& cached = slots[stack_id];
    if (cached == nullptr) cached = &stacks_[stack_id];
    return *cached;
}

const std::unordered_map<uint64_t, LiveBlock>& HeapModel::live_blocks() const {
    if (!live_view_current_) {
        live_view_.clear();
        live_view_.reserve(live_.size());
        live_.for_each([this](uint64_t address, const LiveBlock& block) {
            live_view_.emplace(address, block);
        });
        live_view_current_ = true;
    }
    return live_view_;
}

void HeapModel::unaccount(const LiveBlock& live) {
    StackStats& stack = stats_of(live.stack_id);
    stack.live_blocks -= live.est_blocks;
    stack.live_bytes -= live.est_bytes;
    live_bytes_ -= live.est_bytes;
    live_block_count_ -= live.est_blocks;
}

void HeapModel::apply(const HeapEvent& event) {
    live_view_current_ = false;
    if (event.type == HeapEvent::Type::Free) {
        const LiveBlock* block = live_.find(event.address);
        if (block == nullptr) {
            ++totals_.unknown_frees;
            return;
        }
        ++totals_.frees;
        unaccount(*block);
        live_.erase(event.address);
        return;
    }

    // One probe for both: is the address live (an anomaly: the old block is replaced), and
    // where the new block goes.
    bool inserted = false;
    LiveBlock& slot = live_.find_or_insert(event.address, inserted);
    if (!inserted) {
        ++totals_.replaced_blocks;
        unaccount(slot);
    }
    const SampleWeight weight =
        sample_bytes_ ? sample_weight(event.size, sample_bytes_) : SampleWeight{1, event.size};
    slot = LiveBlock{event.size, event.time_ns, event.stack_id, weight.bytes, weight.blocks};
    totals_.allocations += weight.blocks;
    totals_.bytes_allocated += weight.bytes;
    live_bytes_ += weight.bytes;
    live_block_count_ += weight.blocks;
    StackStats& stack = stats_of(event.stack_id);
    stack.allocations += weight.blocks;
    stack.bytes_allocated += weight.bytes;
    stack.live_blocks += weight.blocks;
    stack.live_bytes += weight.bytes;
    if (live_bytes_ > peak_bytes_) {
        peak_bytes_ = live_bytes_;
        peak_blocks_ = live_block_count_;
        peak_time_ns_ = event.time_ns;
    }
}

SampleWeight sample_weight(uint64_t size, uint64_t sample_bytes) {
    // A zero-byte block still advances nothing in the sampler; count it as itself.
    if (size == 0) return {1, 0};
    const double p = -std::expm1(-static_cast<double>(size) / static_cast<double>(sample_bytes));
    if (!(p > 0.0)) return {1, size};
    return {static_cast<uint64_t>(std::llround(1.0 / p)),
            static_cast<uint64_t>(std::llround(static_cast<double>(size) / p))};
}

HeapModel replay(const DumpReader& reader,
                 const std::function<void(size_t, const HeapModel&)>& on_snapshot) {
    HeapModel model(reader.sample_bytes());
    const std::vector<SnapshotMark>& snapshots = reader.snapshots();
    size_t next = 0;
    // Snapshots not yet reached by the replay are delivered as soon as an event passes them.
    const auto deliver_until = [&](uint64_t time_ns, bool all) {
        while (on_snapshot && next < snapshots.size() &&
               (all || snapshots[next].time_ns < time_ns)) {
            on_snapshot(next, model);
            ++next;
        }
    };
    reader.for_each_event([&](const HeapEvent& event) {
        deliver_until(event.time_ns, false);
        model.apply(event);
    });
    deliver_until(0, true);
    return model;
}

} // namespace memtrace
