// Per-thread state in initial-exec TLS: no allocation and no __tls_get_addr call on first touch
// (the library is preloaded, so its TLS is part of the static block).
#pragma once

#include "clock.h"
#include "memtrace/dump_format.h"

#include <stdint.h>

namespace memtrace::preload {

struct SizeClassBlock;

// Where this thread appends records: its current chunk in the dump.
struct ChunkCursor {
    format::ChunkHeader* header;
    uint8_t* records; // first record byte of the chunk
    uint8_t* position;
    uint8_t* limit;
    uint64_t last_time;
    uint64_t last_address; // complemented (~address); see chunk_address_delta
    uint32_t generation;   // the dump generation the chunk belongs to (a fork child starts anew)
    uint32_t thread_index;
};

// The fields every sampled allocation reads come first, in one cache line.
struct alignas(64) ThreadState {
    // Set while memtrace works on this thread: allocations made meanwhile (by libunwind, dlsym,
    // the loader) pass straight to the real allocator and are not recorded.
    bool busy;
    uint8_t tag; // thread_tags.h; kNoThreadTag until the first event
    // Sampling: counts allocations while the sampler has work pending (sampler_tick).
    uint32_t sampler_tick;
    // Sampling (MEMTRACE_SAMPLE_BYTES): bytes before this thread's next sample point (it falls
    // in the allocation that takes the count below zero).
    uint64_t sample_countdown;
    SizeClassBlock* size_classes; // this thread's counters; null until its first event
    // Sampling: the state of the random generator (0 until the thread's first allocation).
    uint64_t sample_rng;
    // When the event being recorded happened; also the time of the Stack record it may need.
    uint64_t event_time;
    ThreadClock clock; // event times that need no fine clock
    ChunkCursor cursor;
    uint64_t frames[format::kMaxStackDepth + 16];
};

// constinit: no dynamic initializer, so no TLS wrapper call guards each access.
extern constinit thread_local ThreadState t_thread __attribute__((tls_model("initial-exec")));

// Marks the thread busy for a scope.
class BusyScope {
public:
    BusyScope() : was_busy_(t_thread.busy) {
        t_thread.busy = true;
    }
    ~BusyScope() {
        t_thread.busy = was_busy_;
    }
    BusyScope(const BusyScope&) = delete;
    BusyScope& operator=(const BusyScope&) = delete;

private:
    bool was_busy_;
};

} // namespace memtrace::preload
