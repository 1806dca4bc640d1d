// Replays a dump's allocation events to know, at every moment, which blocks are live: totals,
// the peak of live bytes, and what each allocation stack allocated and still holds at the end.
#pragma once

#include "dump_reader.h"
#include "live_block_table.h"

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace memtrace {

struct LiveBlock {
    uint64_t size = 0; // as requested
    uint64_t time_ns = 0;
    uint32_t stack_id = 0;
    // What the block stands for in the figures: itself when every allocation is recorded; in a
    // sampled dump, 1/p blocks of its size (p = the chance it was sampled).
    uint64_t est_bytes = 0;
    uint64_t est_blocks = 0;
};

// What one allocation stack did over the whole run.
struct StackStats {
    uint64_t allocations = 0;
    uint64_t bytes_allocated = 0;
    uint64_t live_blocks = 0; // still live at the end
    uint64_t live_bytes = 0;
};

struct HeapTotals {
    uint64_t allocations = 0;
    uint64_t frees = 0; // of live blocks only
    uint64_t bytes_allocated = 0;
    // Anomalies: a free of an address that is not live (a block inherited over fork(), or
    // allocated before tracing began) is ignored; an alloc at a live address replaces it.
    uint64_t unknown_frees = 0;
    uint64_t replaced_blocks = 0;
};

// Every figure below is an estimate when the model was built for a sampled dump.
class HeapModel {
public:
    // sample_bytes: the dump's mean sampling interval, 0 when every allocation is recorded.
    explicit HeapModel(uint64_t sample_bytes = 0) : sample_bytes_(sample_bytes) {
    }

    void apply(const HeapEvent& event);
    // The same as apply() on each event in turn, faster: the table slots of the events a few
    // places ahead are prefetched while the current one is applied.
    void apply(std::span<const HeapEvent> events);

    bool sampled() const {
        return sample_bytes_ != 0;
    }

    const HeapTotals& totals() const {
        return totals_;
    }
    // Built on first use after a change (the replay itself keeps blocks in a faster table).
    // for_each_live_block() gives the same without building a map.
    const std::unordered_map<uint64_t, LiveBlock>& live_blocks() const;
    // Calls visit(address, const LiveBlock&) for every live block, in no particular order.
    template <typename Visit> void for_each_live_block(Visit&& visit) const {
        live_.for_each(
            [&](const LiveBlockTable::Slot& slot) { visit(slot.address, to_live_block(slot)); });
    }
    uint64_t live_bytes() const {
        return live_bytes_;
    }
    // live_blocks().size() when not sampled.
    uint64_t live_block_count() const {
        return live_block_count_;
    }
    uint64_t peak_bytes() const {
        return peak_bytes_;
    }
    uint64_t peak_blocks() const {
        return peak_blocks_;
    }
    // When live bytes first reached the peak; 0 when nothing was ever allocated.
    uint64_t peak_time_ns() const {
        return peak_time_ns_;
    }
    // Frees the memory of the live blocks and of the per-stack figures, for a caller that
    // needs only the totals, live and peak figures from here on (a report about to symbolize,
    // which takes memory of its own). live_blocks() and stack_stats() are empty afterwards.
    void drop_blocks();

    // Every stack that allocated, by id. Built on first use after a change (the replay keeps
    // the figures of the dense ids the preload hands out in an array).
    const std::unordered_map<uint32_t, StackStats>& stack_stats() const;
    // Calls visit(stack_id, const StackStats&) for every stack that allocated, in no particular
    // order, without building that map (the growth report looks at every snapshot).
    template <typename Visit> void for_each_stack(Visit&& visit) const {
        // A stack is listed once it allocated: every recorded block counts as >= 1 allocation.
        for (size_t id = 0; id < dense_stacks_.size(); ++id) {
            if (dense_stacks_[id].allocations != 0)
                visit(static_cast<uint32_t>(id), static_cast<const StackStats&>(dense_stacks_[id]));
        }
        for (const auto& [id, stats] : sparse_stacks_)
            visit(id, stats);
    }

private:
    template <bool kSampled> void apply_events(std::span<const HeapEvent> events);
    template <bool kSampled> void apply_one(const HeapEvent& event);
    template <bool kSampled> void account_free(LiveBlockTable::Slot* slot);
    StackStats& stats_of(uint32_t stack_id);
    StackStats& grow_stats_for(uint32_t stack_id); // the slow path of stats_of
    void prefetch(const HeapEvent& event) const;
    LiveBlock to_live_block(const LiveBlockTable::Slot& slot) const;

    LiveBlockTable live_; // by address
    mutable std::unordered_map<uint64_t, LiveBlock> live_view_;
    mutable bool live_view_current_ = true;
    // Stacks by id: the ids below a limit (as the preload hands them out, 1, 2, 3...) index an
    // array, one access per event instead of a hash lookup; larger (hostile) ones a map.
    std::vector<StackStats> dense_stacks_;
    std::unordered_map<uint32_t, StackStats> sparse_stacks_;
    mutable std::unordered_map<uint32_t, StackStats> stacks_view_;
    mutable bool stacks_view_current_ = true;
    HeapTotals totals_;
    uint64_t sample_bytes_ = 0;
    uint64_t live_bytes_ = 0;
    uint64_t live_block_count_ = 0;
    uint64_t peak_bytes_ = 0;
    uint64_t peak_blocks_ = 0;
    uint64_t peak_time_ns_ = 0;
};

// How many blocks and bytes one recorded block of `size` bytes stands for in a dump sampled
// with mean interval sample_bytes (> 0): the Poisson process hits it with p = 1 - exp(-size/N).
struct SampleWeight {
    uint64_t blocks;
    uint64_t bytes;
};
SampleWeight sample_weight(uint64_t size, uint64_t sample_bytes);

// Replays every event of the dump (with the dump's sampling weights). When given, on_snapshot(i,
// model) is called for reader.snapshots()[i] once every event up to that snapshot's time has
// been applied and no later one.
HeapModel replay(const DumpReader& reader,
                 const std::function<void(size_t, const HeapModel&)>& on_snapshot = {});

// Replays every event of the dump; at_time(i, model) is called once every event up to
// times_ns[i] (sorted) has been applied and no later one.
HeapModel replay_at_times(const DumpReader& reader, const std::vector<uint64_t>& times_ns,
                          const std::function<void(size_t, const HeapModel&)>& at_time);

} // namespace memtrace
