#include "heap_model.h"

namespace memtrace {

void HeapModel::release(std::unordered_map<uint64_t, LiveBlock>::iterator block) {
    StackStats& stack = stacks_[block->second.stack_id];
    stack.live_blocks -= 1;
    stack.live_bytes -= block->second.size;
    live_bytes_ -= block->second.size;
    live_.erase(block);
}

void HeapModel::apply(const HeapEvent& event) {
    if (event.type == HeapEvent::Type::Free) {
        const auto block = live_.find(event.address);
        if (block == live_.end()) {
            ++totals_.unknown_frees;
            return;
        }
        ++totals_.frees;
        release(block);
        return;
    }

    if (const auto old = live_.find(event.address); old != live_.end()) {
        ++totals_.replaced_blocks;
        release(old);
    }
    live_.emplace(event.address, LiveBlock{event.size, event.time_ns, event.stack_id});
    ++totals_.allocations;
    totals_.bytes_allocated += event.size;
    live_bytes_ += event.size;
    StackStats& stack = stacks_[event.stack_id];
    stack.allocations += 1;
    stack.bytes_allocated += event.size;
    stack.live_blocks += 1;
    stack.live_bytes += event.size;
    if (live_bytes_ > peak_bytes_) {
        peak_bytes_ = live_bytes_;
        peak_blocks_ = live_.size();
        peak_time_ns_ = event.time_ns;
    }
}

HeapModel replay(const DumpReader& reader) {
    HeapModel model;
    reader.for_each_event([&model](const HeapEvent& event) { model.apply(event); });
    return model;
}

LeakTotals compute_leak_totals(const std::string& dump_path) {
    const DumpReader reader(dump_path);
    const HeapModel model = replay(reader);
    return {model.live_bytes(), model.live_blocks().size(), reader.complete()};
}

} // namespace memtrace
