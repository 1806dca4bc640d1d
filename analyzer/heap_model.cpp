#include "heap_model.h"

#include <algorithm>
#include <cmath>

namespace memtrace {

namespace {
// Stack ids below this index the array of stacks (32 MiB at most); larger (hostile) ones a map.
constexpr uint32_t kDenseStackLimit = 1u << 20;
// How many events ahead apply(span) prefetches: enough to cover a miss to memory at the
// few nanoseconds an event of a hot table takes.
constexpr size_t kPrefetchAhead = 12;
} // namespace

inline StackStats& HeapModel::stats_of(uint32_t stack_id) {
    if (stack_id < dense_stacks_.size()) [[likely]]
        return dense_stacks_[stack_id];
    return grow_stats_for(stack_id);
}

StackStats& HeapModel::grow_stats_for(uint32_t stack_id) {
    if (stack_id >= kDenseStackLimit) return sparse_stacks_[stack_id];
    // Capped at the limit, so that an id is in the array exactly when it is below the limit.
    dense_stacks_.resize(std::min<size_t>(stack_id + 1 + stack_id / 2, kDenseStackLimit));
    return dense_stacks_[stack_id];
}

LiveBlock HeapModel::to_live_block(const LiveBlockTable::Slot& slot) const {
    // The weights are not stored: they follow from the size, and computing them again on the
    // rare look at a block keeps every slot of the table at 32 bytes.
    const SampleWeight weight =
        sample_bytes_ ? sample_weight(slot.size, sample_bytes_) : SampleWeight{1, slot.size};
    return LiveBlock{slot.size, slot.time_ns, slot.stack_id, weight.bytes, weight.blocks};
}

const std::unordered_map<uint64_t, LiveBlock>& HeapModel::live_blocks() const {
    if (!live_view_current_) {
        live_view_.clear();
        live_view_.reserve(live_.size());
        for_each_live_block([this](uint64_t address, const LiveBlock& block) {
            live_view_.emplace(address, block);
        });
        live_view_current_ = true;
    }
    return live_view_;
}

const std::unordered_map<uint32_t, StackStats>& HeapModel::stack_stats() const {
    if (!stacks_view_current_) {
        stacks_view_.clear();
        for_each_stack(
            [this](uint32_t id, const StackStats& stats) { stacks_view_.emplace(id, stats); });
        stacks_view_current_ = true;
    }
    return stacks_view_;
}

void HeapModel::drop_blocks() {
    live_ = LiveBlockTable();
    live_view_ = {};
    live_view_current_ = true;
    dense_stacks_ = {};
    sparse_stacks_ = {};
    stacks_view_ = {};
    stacks_view_current_ = true;
}

template <bool kSampled> inline void HeapModel::account_free(LiveBlockTable::Slot* slot) {
    const SampleWeight weight =
        kSampled ? sample_weight(slot->size, sample_bytes_) : SampleWeight{1, slot->size};
    StackStats& stack = stats_of(slot->stack_id);
    stack.live_blocks -= weight.blocks;
    stack.live_bytes -= weight.bytes;
    live_bytes_ -= weight.bytes;
    live_block_count_ -= weight.blocks;
}

template <bool kSampled>
[[gnu::always_inline]] inline void HeapModel::apply_one(const HeapEvent& event) {
    if (event.type == HeapEvent::Type::Free) {
        LiveBlockTable::Slot* slot = live_.find(event.address);
        if (slot == nullptr) {
            ++totals_.unknown_frees;
            return;
        }
        ++totals_.frees;
        account_free<kSampled>(slot);
        live_.erase(slot);
        return;
    }

    // One probe for both: is the address live (an anomaly: the old block is replaced), and
    // where the new block goes.
    bool inserted = false;
    LiveBlockTable::Slot& slot = live_.find_or_insert(event.address, inserted);
    if (!inserted) {
        ++totals_.replaced_blocks;
        account_free<kSampled>(&slot);
    }
    slot.size = event.size;
    slot.time_ns = event.time_ns;
    slot.stack_id = event.stack_id;
    const SampleWeight weight =
        kSampled ? sample_weight(event.size, sample_bytes_) : SampleWeight{1, event.size};
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

void HeapModel::apply(const HeapEvent& event) {
    apply(std::span<const HeapEvent>(&event, 1));
}

[[gnu::always_inline]] inline void HeapModel::prefetch(const HeapEvent& event) const {
    live_.prefetch(event.address);
    // A free's stack is only known once its slot is read; an alloc's is in the event. No
    // branch on which it is (they come in no predictable order): a free names no stack, and
    // prefetching the first entry for it costs nothing.
    if (!dense_stacks_.empty()) {
        const size_t id = std::min<size_t>(event.stack_id, dense_stacks_.size() - 1);
        __builtin_prefetch(&dense_stacks_[id], 1);
    }
}

template <bool kSampled> void HeapModel::apply_events(std::span<const HeapEvent> events) {
    const size_t count = events.size();
    for (size_t i = 0; i < count && i < kPrefetchAhead; ++i)
        prefetch(events[i]);
    size_t i = 0;
    for (; i + kPrefetchAhead < count; ++i) {
        prefetch(events[i + kPrefetchAhead]);
        apply_one<kSampled>(events[i]);
    }
    for (; i < count; ++i)
        apply_one<kSampled>(events[i]);
}

void HeapModel::apply(std::span<const HeapEvent> events) {
    if (events.empty()) return;
    live_view_current_ = false;
    stacks_view_current_ = false;
    // The common case, every allocation recorded, compiled without the sampling weights.
    if (sample_bytes_ != 0) {
        apply_events<true>(events);
    } else {
        apply_events<false>(events);
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

HeapModel replay_at_times(const DumpReader& reader, const std::vector<uint64_t>& times_ns,
                          const std::function<void(size_t, const HeapModel&)>& at_time) {
    HeapModel model(reader.sample_bytes());
    size_t next = 0;
    reader.for_each_event_batch([&](std::span<const HeapEvent> events) {
        while (next < times_ns.size() && !events.empty()) {
            // The events up to the first one past the next time go in one piece.
            const auto past = std::find_if(events.begin(), events.end(), [&](const HeapEvent& e) {
                return e.time_ns > times_ns[next];
            });
            const auto before = static_cast<size_t>(past - events.begin());
            model.apply(events.first(before));
            events = events.subspan(before);
            while (!events.empty() && next < times_ns.size() &&
                   events.front().time_ns > times_ns[next]) {
                at_time(next++, model);
            }
        }
        model.apply(events);
    });
    while (next < times_ns.size())
        at_time(next++, model);
    return model;
}

HeapModel replay(const DumpReader& reader,
                 const std::function<void(size_t, const HeapModel&)>& on_snapshot) {
    std::vector<uint64_t> times_ns;
    if (on_snapshot) {
        times_ns.reserve(reader.snapshots().size());
        for (const SnapshotMark& snapshot : reader.snapshots())
            times_ns.push_back(snapshot.time_ns);
    }
    return replay_at_times(reader, times_ns, on_snapshot);
}

} // namespace memtrace
