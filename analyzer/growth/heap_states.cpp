#include "growth/heap_states.h"

#include "heap_model.h"
#include "reports/dump_facts.h"

#include <algorithm>

namespace memtrace::growth {
namespace {

HeapState state_of(const HeapModel& model) {
    HeapState state;
    model.for_each_stack([&state](uint32_t stack_id, const StackStats& stats) {
        if (stats.live_blocks == 0) return;
        state.stacks.push_back({stack_id, {stats.live_bytes, stats.live_blocks}});
        state.total.bytes += stats.live_bytes;
        state.total.blocks += stats.live_blocks;
    });
    // Stack ids in order, so the same dump always names a site by the same stack.
    std::sort(state.stacks.begin(), state.stacks.end(),
              [](const StackLive& a, const StackLive& b) { return a.stack_id < b.stack_id; });
    return state;
}

} // namespace

const char* trigger_name(format::SnapshotTrigger trigger) {
    switch (trigger) {
    case format::SnapshotTrigger::Interval:
        return "interval";
    case format::SnapshotTrigger::Signal:
        return "signal";
    case format::SnapshotTrigger::Api:
        return "api";
    case format::SnapshotTrigger::Exit:
        return "exit";
    }
    return "?";
}

std::optional<uint64_t> rss_at_snapshot(const DumpReader& reader, size_t snapshot) {
    const uint64_t time_ns = reader.snapshots().at(snapshot).time_ns;
    const auto& samples = reader.memory_samples(); // sorted by time
    const auto found = std::lower_bound(
        samples.begin(), samples.end(), time_ns,
        [](const ProcessMemorySample& sample, uint64_t t) { return sample.time_ns < t; });
    if (found == samples.end() || found->time_ns != time_ns) return std::nullopt;
    return found->memory.vm_rss;
}

std::vector<SnapshotListing> snapshot_listings(const DumpReader& reader) {
    std::vector<SnapshotListing> listings;
    for (const SnapshotMark& mark : reader.snapshots()) {
        listings.push_back(
            {mark.label, trigger_name(mark.trigger),
             reports::seconds_between(reader.header().start_monotonic_ns, mark.time_ns)});
    }
    return listings;
}

std::vector<HeapState> capture_states(const DumpReader& reader,
                                      const std::vector<Moment>& moments) {
    std::vector<HeapState> states(moments.size());
    std::vector<std::vector<size_t>> wanted(reader.snapshots().size());
    for (size_t i = 0; i < moments.size(); ++i) {
        if (moments[i]) wanted.at(*moments[i]).push_back(i);
    }
    const HeapModel final_model = replay(reader, [&](size_t snapshot, const HeapModel& model) {
        if (snapshot >= wanted.size() || wanted[snapshot].empty()) return;
        HeapState state = state_of(model);
        for (const size_t i : wanted[snapshot])
            states[i] = state;
    });
    for (size_t i = 0; i < moments.size(); ++i) {
        if (!moments[i]) states[i] = state_of(final_model);
    }
    return states;
}

} // namespace memtrace::growth
