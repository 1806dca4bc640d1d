// The clocks of the dump. Record times are nanoseconds on CLOCK_MONOTONIC's scale. Where the
// kernel itself keeps time with the TSC (constant rate, synchronized across CPUs), events read
// the TSC directly and scale it with a factor calibrated against CLOCK_MONOTONIC at start:
// that costs a third of a clock_gettime() here, and, being one global counter, it orders
// events across threads exactly as well.
#pragma once

#include "hidden.h"

#include <stdint.h>
#include <time.h>
#include <x86intrin.h>

namespace memtrace::preload {

inline uint64_t monotonic_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

inline uint64_t realtime_ns() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

struct EventClock {
    bool use_tsc;
    uint64_t tsc_origin;
    uint64_t ns_origin;
    uint64_t ns_per_tick_q32; // nanoseconds per TSC tick, 32.32 fixed point
};

extern MEMTRACE_HIDDEN EventClock g_event_clock;

// Starts calibration; events use CLOCK_MONOTONIC until event_clock_finish_calibration().
void event_clock_start_calibration();
// Ends it (waiting, if need be, until the calibration interval is long enough to be precise).
void event_clock_finish_calibration();

inline uint64_t tsc_to_ns(uint64_t tsc) {
    const EventClock& clock = g_event_clock;
    if (__builtin_expect(tsc < clock.tsc_origin, 0)) return clock.ns_origin;
    const auto ticks = static_cast<unsigned __int128>(tsc - clock.tsc_origin);
    return clock.ns_origin + static_cast<uint64_t>((ticks * clock.ns_per_tick_q32) >> 32);
}

// The fine clock: the TSC where it can be used, else CLOCK_MONOTONIC. A bare RDTSC may execute
// before earlier instructions complete; an allocation samples it after unwinding, long after
// the allocator's loads that found the block.
inline uint64_t fine_time_ns() {
    if (__builtin_expect(!g_event_clock.use_tsc, 0)) return monotonic_ns();
    return tsc_to_ns(__rdtsc());
}

// Counts records other than events (snapshots, notes, the module map): an event that follows
// one must not reuse a fine time from before it (see ThreadClock).
extern MEMTRACE_HIDDEN uint64_t g_record_epoch;

// The time of a record that is not an allocation or a free.
inline uint64_t record_time_ns() {
    __atomic_add_fetch(&g_record_epoch, 1, __ATOMIC_RELAXED);
    return fine_time_ns();
}

// An event that no other thread's event on the same address can have to precede (the recorder
// decides which) needs a time that is only monotonic, near, and after every record written
// before it: the fine clock is read when the kernel's coarse clock (a vDSO read of a variable
// the timer tick updates) or g_record_epoch has moved since the thread last read it, and that
// value is reused until then. An RDTSC cost tens of nanoseconds per event on the virtual
// machines measured (docs/performance.md); the coarse read costs a few.
struct ThreadClock {
    uint64_t coarse; // the coarse clock at the last fine read
    uint64_t epoch;  // g_record_epoch then
    uint64_t fine;   // that fine read
};

// 0 if the kernel has no such clock (then every event reads the fine clock).
inline uint64_t coarse_monotonic_ns() {
    timespec ts{};
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0) return 0;
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// A fine time the thread read for an event of its own: later reused times are no older.
inline uint64_t thread_clock_keep(ThreadClock& clock, uint64_t fine) {
    clock.fine = fine;
    return fine;
}

inline uint64_t thread_clock_ns(ThreadClock& clock) {
    const uint64_t coarse = coarse_monotonic_ns();
    const uint64_t epoch = __atomic_load_n(&g_record_epoch, __ATOMIC_RELAXED);
    if (__builtin_expect(coarse != clock.coarse || epoch != clock.epoch || coarse == 0, 0)) {
        clock.coarse = coarse;
        clock.epoch = epoch;
        clock.fine = fine_time_ns();
    }
    return clock.fine;
}

// The time of a free. LFENCE first: the read must not run ahead of the loads that obtained the
// pointer (an exchange with another thread, say), or the free could appear to precede the
// allocation that produced the block (seen on this machine without it).
inline uint64_t ordered_event_time_ns() {
    if (__builtin_expect(!g_event_clock.use_tsc, 0)) return monotonic_ns();
    asm volatile("lfence" ::: "memory"); // also keeps the compiler from moving loads across
    return tsc_to_ns(__rdtsc());
}

} // namespace memtrace::preload
