// Per-thread counters of every allocation by size class (the histogram of issue 6), kept even
// when sampling skips the event. Each thread owns a block of counters, so the hot path is a few
// unshared increments; whoever writes a SizeClassTotals record sums all blocks under a lock the
// hot path never takes.
#pragma once

#include "memtrace/record_encoding.h"

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

// An allocation touches one 32-byte AllocCounts and a free one 16-byte FreeCounts: each stays
// within a cache line (a 40-byte format::SizeClassCounts per class would straddle lines), and
// the counters of the common small classes are packed together.
struct AllocCounts {
    uint64_t count;
    uint64_t requested_bytes;
    uint64_t usable_bytes;
    uint64_t unused;
};
struct FreeCounts {
    uint64_t count;
    uint64_t usable_bytes;
};

// Sampling counts most small allocations before the call (recorder.h, count_small_alloc), by
// exact size: one add on the hot path. Their classes' counts, requested and usable bytes
// (glibc's rounding) are derived when the counters are summed.
inline constexpr size_t kCountedBySizeMax = 512;

struct alignas(64) SizeClassBlock {
    AllocCounts allocs[format::kSizeClassCount];
    FreeCounts frees[format::kSizeClassCount];
    uint64_t by_size[kCountedBySizeMax + 1]; // [0] unused
    SizeClassBlock* next;                    // in the list of all blocks
    SizeClassBlock* next_free;               // in the list of blocks of exited threads
};

// Called once during initialization (creates the thread-exit key).
bool size_class_counters_init();

// The calling thread's block; nullptr only when memory ran out.
SizeClassBlock* size_class_block_slow();

inline void bump(uint64_t& counter, uint64_t amount) {
    // Only the owning thread writes; relaxed atomics keep the summing thread's reads defined.
    __atomic_store_n(&counter, __atomic_load_n(&counter, __ATOMIC_RELAXED) + amount,
                     __ATOMIC_RELAXED);
}

// Inline: they run for every event, sampled or not.
inline void count_alloc(SizeClassBlock* block, uint64_t size, uint64_t usable) {
    AllocCounts& c = block->allocs[format::size_class_index(size)];
    bump(c.count, 1);
    bump(c.requested_bytes, size);
    bump(c.usable_bytes, usable);
}

// 1 <= size <= kCountedBySizeMax, from glibc's heap.
inline void count_alloc_by_size(SizeClassBlock* block, size_t size) {
    bump(block->by_size[size], 1);
}

inline void count_free(SizeClassBlock* block, uint64_t usable) {
    FreeCounts& c = block->frees[format::size_class_index(usable)];
    bump(c.count, 1);
    bump(c.usable_bytes, usable);
}

// Sums every thread's counters (and those of threads that exited) into `out`.
void sum_size_classes(format::SizeClassCounts* out);

// Writes a SizeClassTotals record into the calling thread's chunk. False if recording stopped.
bool emit_size_class_totals(uint64_t now);
// The same, from sums the caller already has (sum_size_classes).
bool emit_size_class_totals(uint64_t now, const format::SizeClassCounts* sums);

// In a fork child: the other threads are gone and the child's dump starts from zero.
void size_class_counters_reset_after_fork(SizeClassBlock* survivor);

} // namespace memtrace::preload
