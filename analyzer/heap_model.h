// Replays a dump's allocation events to know, at every moment, which blocks are live: totals,
// the peak of live bytes, and what each allocation stack allocated and still holds at the end.
#pragma once

#include "dump_reader.h"
#include "flat_map.h"

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

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

    bool sampled() const {
        return sample_bytes_ != 0;
    }

    const HeapTotals& totals() const {
        return totals_;
    }
    // Built on first use after a change (the replay itself keeps blocks in a faster map).
    const std::unordered_map<uint64_t, LiveBlock>& live_blocks() const;
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
    const std::unordered_map<uint32_t, StackStats>& stack_stats() const {
        return stacks_;
    }

private:
    void unaccount(const LiveBlock& block); // takes a block out of the live figures
    StackStats& stats_of(uint32_t stack_id);

    FlatMap<LiveBlock> live_; // by address
    mutable std::unordered_map<uint64_t, LiveBlock> live_view_;
    mutable bool live_view_current_ = true;
    std::unordered_map<uint32_t, StackStats> stacks_;
    // stacks_ entries by id for the dense ids the preload hands out: one array access per event
    // instead of a hash lookup. unordered_map values never move, and a move of the map keeps
    // them; a copy of the model starts with an empty cache, since it has entries of its own.
    struct StackCache {
        std::vector<StackStats*> slots;
        StackCache() = default;
        StackCache(const StackCache&) {
        }
        StackCache& operator=(const StackCache&) {
            slots.clear();
            return *this;
        }
        StackCache(StackCache&&) = default;
        StackCache& operator=(StackCache&&) = default;
    };
    StackCache stack_cache_;
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

} // namespace memtrace
