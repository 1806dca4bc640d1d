// When an interval snapshot may call malloc_info(). glibc's malloc_info walks every free list of
// every arena, each under its arena's lock: with millions of free chunks one call took 0.3-0.8 s,
// and an app thread needing that arena's lock (a large free, a consolidation) waited for it
// (growing heap benchmark: 1.3 s -> 2.1 s when the walk fell in its free phase). Snapshots asked
// for (signal, API) and the exit's always call it. An interval snapshot calls it only if the
// calls so far plus this one's likely cost stay within 1/kShare of the time since the start.
// The likely cost comes from the free lists' likely length: the blocks freed since the live
// count's peak (watched by the sampler between snapshots) since the last call, at
// kNsPerFreeChunk each (a cache miss per chunk, measured 150-400 ns).
#pragma once

#include <stdint.h>

namespace memtrace::preload {

class MallocInfoBudget {
public:
    static constexpr uint64_t kShare = 10;
    static constexpr uint64_t kNsPerFreeChunk = 300;

    // The process's live blocks now (allocations minus frees, all threads).
    void observe(uint64_t now_ns, uint64_t live) {
        if (!observed_) origin_ = now_ns;
        observed_ = true;
        if (live > peak_) peak_ = live;
    }

    // At an interval snapshot.
    bool due(uint64_t now_ns, uint64_t live) {
        observe(now_ns, live);
        const uint64_t likely_ns = (peak_ - live) * kNsPerFreeChunk;
        return (spent_ns_ + likely_ns) * kShare <= now_ns - origin_;
    }

    // A call that started at `started_ns` with `live` blocks and took `ns`.
    void spent(uint64_t started_ns, uint64_t live, uint64_t ns) {
        observe(started_ns, live);
        spent_ns_ += ns;
        peak_ = live; // the lists it walked are now known to cost what it took
    }

private:
    bool observed_ = false;
    uint64_t origin_ = 0; // the first observation
    uint64_t peak_ = 0;   // live blocks at their highest since the last call
    uint64_t spent_ns_ = 0;
};

} // namespace memtrace::preload
