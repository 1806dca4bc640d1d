// The size-class histogram: for every class of request sizes, what was allocated over the run
// (every allocation, from the preload's counters, even in a sampled dump) and what is live
// (from replaying the recorded blocks: estimates in a sampled dump).
#pragma once

#include "heap_model.h"
#include "memtrace/dump_format.h"

#include <cstdint>
#include <vector>

namespace memtrace::memory {

struct ClassLive {
    uint64_t count = 0;
    uint64_t bytes = 0; // requested
};

// Live blocks of the model per size class (kSizeClassCount entries).
std::vector<ClassLive> live_by_class(const HeapModel& model);

struct HistogramRow {
    uint32_t index = 0;
    uint64_t min_size = 0; // inclusive; 0 for the first class (a request of 0 bytes counts there)
    uint64_t max_size = 0; // inclusive
    // Every allocation since the start (0 when the dump has no size-class totals).
    uint64_t count = 0;
    uint64_t requested_bytes = 0;
    uint64_t usable_bytes = 0; // malloc_usable_size() summed
    // Frees are classed by usable size, not requested size: kept for reference only.
    uint64_t free_count = 0;
    uint64_t freed_usable_bytes = 0;
    ClassLive live;

    uint64_t waste_bytes() const { // usable beyond what was asked for
        return usable_bytes > requested_bytes ? usable_bytes - requested_bytes : 0;
    }
};

struct SizeHistogram {
    bool has_totals = false;        // the dump has a SizeClassTotals record
    std::vector<HistogramRow> rows; // classes with any allocation or live block, smallest first

    uint64_t count() const;
    uint64_t requested_bytes() const;
    uint64_t usable_bytes() const;
    uint64_t live_count() const;
    uint64_t live_bytes() const;
};

// `totals` may be null (no SizeClassTotals record); `live` has kSizeClassCount entries.
SizeHistogram make_histogram(const std::vector<format::SizeClassCounts>* totals,
                             const std::vector<ClassLive>& live);

uint64_t class_min_size(uint32_t index);

} // namespace memtrace::memory
