// What the hooks call: initialization (an explicit state machine) and the recording of events.
//
// States, and what a hook does in each:
//   Uninitialized  the first hook (or the library constructor) starts initialization.
//   Initializing   one thread is setting up; hooks on any thread pass through unrecorded
//                  (served by the bootstrap arena until the real allocator is known).
//   Ready          hooks record, unless the thread is already inside memtrace (busy).
//   Stopped        recording ended (dump could not be created, disk full): pass through.
#pragma once

#include "hidden.h"
#include "live_map.h"
#include "memtrace/dump_format.h"
#include "sampled_address_set.h"
#include "sampled_block.h"
#include "sampler.h"
#include "size_class_counters.h"
#include "thread_state.h"
#include "usable_size.h"

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

enum class State : int { Uninitialized = 0, Initializing = 1, Ready = 2, Stopped = 3 };

extern MEMTRACE_HIDDEN int g_state;

[[gnu::cold]] void initialize();

// Whether this call should be recorded; starts initialization on the very first call.
inline bool should_record() {
    const int state = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
    if (__builtin_expect(state != static_cast<int>(State::Ready), 0)) {
        if (state != static_cast<int>(State::Uninitialized)) return false;
        initialize();
        if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != static_cast<int>(State::Ready))
            return false;
    }
    return !t_thread.busy;
}

// MEMTRACE_SAMPLE_BYTES in force: 0 records every allocation. Set before the state is Ready.
extern MEMTRACE_HIDDEN uint64_t g_sample_bytes;
// Sampling is on and the state is Ready: the one load that sends a hook down the sampling path.
extern MEMTRACE_HIDDEN bool g_sampling_ready;
// Sampling on glibc's allocator: recorded blocks carry a header (sampled_block.h). Set before
// the state is Ready and never cleared: such blocks outlive the recording.
extern MEMTRACE_HIDDEN bool g_sampled_headers;
// Sampling on another allocator: the addresses of the recorded live blocks, and whether that
// set overflowed (from then on every free is recorded; the set's filter then lets every free
// through).
extern MEMTRACE_HIDDEN SampledAddressSet g_sampled;
extern MEMTRACE_HIDDEN bool g_sampled_set_full;

[[gnu::cold]] SizeClassBlock* thread_size_classes_slow();
inline SizeClassBlock* thread_size_classes() {
    SizeClassBlock* block = t_thread.size_classes;
    return __builtin_expect(block != nullptr, 1) ? block : thread_size_classes_slow();
}

// Event times: a free's (before the block goes back) and an allocation's (after unwinding).
// `p` is the block (nullptr for a mapping).
uint64_t now_for_free(void* p);
uint64_t now_for_alloc(ThreadState& thread, void* p);

// At most one thread of the program has had an event so far.
bool program_has_one_thread();

// Full tracing: count the event by size class and write its record.
void record_alloc(void* p, size_t size, format::AllocFunction function);
// `usable` is the block's usable size; `time` is when the caller sampled the clock, before the
// block went back to the allocator.
void record_free(void* p, uint64_t usable, uint64_t time);

// Sampling: count every allocation; record one when the thread's sample point falls in it, and
// a free when its block was recorded. Frees are not counted by size class: reading the block's
// header for it cost churn 4% of its time. The common case is inline and touches only this
// thread's counters; the rest is out of line.
// Each returns the block for the app: a recorded block gets its header (g_sampled_headers), in
// a new block of the same kind (`alignment`: what an aligned allocation asked for).
// The allocation reached its thread's sample point. Out of line, with nothing to do after it,
// so that the inline part needs few registers.
[[gnu::noinline]] void* sample_alloc_slow(void* p, size_t size, format::AllocFunction function,
                                          size_t alignment);
// The same path when the thread has no counters yet or the usable size needs a call.
[[gnu::noinline]] void* sample_alloc_general(void* p, size_t size, format::AllocFunction function,
                                             size_t alignment);
// The sampler's work that may be due (sampler.h), with the clock read here; nothing if the
// thread is busy.
[[gnu::noinline]] void sampler_work_from_sampling();
// A free whose block may have been sampled (the filter let it through).
[[gnu::noinline]] void sample_free_slow(void* p);
// g_sampled_headers: the free and the realloc of a block with a header; records its free if its
// Alloc is in this dump. free_sampled_block also gets the bootstrap blocks (bootstrap_arena.h).
[[gnu::noinline]] void free_sampled_block(void* p);
[[gnu::noinline]] void* realloc_sampled_block(void* old, size_t size);

// Sampling, glibc's heap, a malloc of 1 to kSmallAllocMax bytes: counted before the real call,
// so that the hook can end in a tail call to it. It is counted by exact size, its usable size
// derived from glibc's rounding when the counters are summed (count_alloc_by_size); the header
// is not read (docs/design.md, "Sampling"). g_inline_small_max is kSmallAllocMax while this is
// on, 0 while off (the hook's first test is one comparison): set from the general path once
// the header is trusted, cleared when a sample point finds a block the rounding does not
// describe (glibc's mmap threshold set below it) and when recording stops.
inline constexpr size_t kSmallAllocMax = kCountedBySizeMax;
extern MEMTRACE_HIDDEN size_t g_inline_small_max;
// What is left after an allocation was counted (General: it was not, the hook's general path
// counts it).
enum class SmallAlloc { Counted, SamplePoint, SamplerWork, General };
[[gnu::noinline]] void* malloc_at_sample_point(size_t size);

// Sampling mode's events have no time: full tracing compares each event's time with the
// sampler's deadline, sampling reads the clock every 16th allocation while work is pending.
inline bool sampler_tick(ThreadState& thread) {
    return __builtin_expect(__atomic_load_n(&g_sampler_pending, __ATOMIC_RELAXED), 0) &&
           (++thread.sampler_tick & 15) == 0;
}

// The allocation's bytes off the thread's countdown to its next sample point.
inline SmallAlloc count_down(ThreadState& thread, size_t size) {
    if (__builtin_expect(
            __builtin_sub_overflow(thread.sample_countdown, size, &thread.sample_countdown), 0))
        return SmallAlloc::SamplePoint;
    if (sampler_tick(thread)) return SmallAlloc::SamplerWork;
    return SmallAlloc::Counted;
}

inline void* count_down_to_sample_point(ThreadState& thread, void* p, size_t size,
                                        format::AllocFunction function, size_t alignment) {
    switch (count_down(thread, size)) {
    case SmallAlloc::SamplePoint:
        return sample_alloc_slow(p, size, function, alignment);
    case SmallAlloc::SamplerWork:
        sampler_work_from_sampling();
        return p;
    default:
        return p;
    }
}

inline void* sample_alloc(void* p, size_t size, format::AllocFunction function, size_t alignment) {
    ThreadState& thread = t_thread;
    SizeClassBlock* counters = thread.size_classes;
    // No call on the inline path but the last: it then needs few registers saved.
    if (__builtin_expect(!counters || !__atomic_load_n(&g_glibc_chunk_headers, __ATOMIC_RELAXED),
                         0))
        return sample_alloc_general(p, size, function, alignment);
    count_alloc(counters, size, glibc_usable_size(p));
    return count_down_to_sample_point(thread, p, size, function, alignment);
}

inline bool sampling_ready() {
    return __atomic_load_n(&g_sampling_ready, __ATOMIC_RELAXED);
}

// The malloc hook's first step: whether the allocation was counted here, and what is left.
inline SmallAlloc count_small_alloc(size_t size) {
    if (size - 1 >= __atomic_load_n(&g_inline_small_max, __ATOMIC_RELAXED))
        return SmallAlloc::General;
    ThreadState& thread = t_thread;
    SizeClassBlock* counters = thread.size_classes;
    if (__builtin_expect(!counters || thread.busy, 0)) return SmallAlloc::General;
    count_alloc_by_size(counters, size);
    return count_down(thread, size);
}

inline void* on_alloc(void* p, size_t size, format::AllocFunction function) {
    if (__builtin_expect(g_sample_bytes == 0, 1)) {
        record_alloc(p, size, function);
        return p;
    }
    return sample_alloc(p, size, function, 0);
}

// What the allocating hooks call with the new block; they hand the app the block it returns.
// Sampling checks its one flag and the thread's busy bit; the rest goes through should_record()
// (which also starts initialization).
inline void* after_alloc(void* p, size_t size, format::AllocFunction function,
                         size_t alignment = 0) {
    if (sampling_ready()) {
        if (!t_thread.busy) return sample_alloc(p, size, function, alignment);
    } else if (should_record()) {
        record_alloc(p, size, function);
    }
    return p;
}

// Before the block goes back to the allocator (another thread may get the address at once).
// free() tests the sampling path itself; realloc's old block goes through free_begin.
inline void before_free(void* p) {
    if (sampling_ready()) {
        // Blocks allocated while busy are never sampled: the slow path checks busy.
        if (__builtin_expect(g_sampled.may_contain(reinterpret_cast<uint64_t>(p)), 0))
            sample_free_slow(p);
    } else if (should_record()) {
        // The header first: the clock's fence waits for every earlier load, and this one is
        // often a cache miss; issued before the fence it overlaps the app's own misses instead
        // of following them (C++ containers: the miss cost twice glibc's free without this).
        const uint64_t usable = usable_size(p);
        // Also before the fence, for the same reason: its map byte is often a miss too.
        g_live_map.take(reinterpret_cast<uint64_t>(p));
        record_free(p, usable, now_for_free(p));
    }
}

// The old block of a realloc, which the real realloc may free: what must be known of it before
// the call (its usable size, whether its free is to be recorded, and when), then the outcome.
struct PendingFree {
    uint64_t usable;
    uint64_t time;
    uint64_t live_entry; // what LiveMap::take returned, to undo it
    bool record;
};
PendingFree free_begin(void* p);
void free_commit(void* p, const PendingFree& pending); // the block was freed
void free_abort(void* p, const PendingFree& pending);  // it was not (a failed realloc)

// Anonymous mappings and their removal (the mmap/munmap/mremap hooks). Unmap and remap take the
// time sampled before the call, for the same reason as frees.
void record_map(void* address, size_t length, int prot, int flags);
void record_unmap(void* address, size_t length, uint64_t time);
void record_remap(void* old_address, size_t old_length, void* new_address, size_t new_length,
                  uint64_t time);

void on_dlopen_or_dlclose();
void on_quick_exit(int status);
// Around execve: the dump ends with Exec if the call succeeds; undone if it returns.
void on_exec_attempt();
void on_exec_failed();

} // namespace memtrace::preload
