// The clocks of the dump. Record times are nanoseconds on CLOCK_MONOTONIC's scale. Where the
// kernel itself keeps time with the TSC (constant rate, synchronized across CPUs), events read
// the TSC directly and scale it with a factor calibrated against CLOCK_MONOTONIC at start:
// that costs a third of a clock_gettime() here, and, being one global counter, it orders
// events across threads exactly as well.
#pragma once

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

extern EventClock g_event_clock;

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

// The time of an allocation. A bare RDTSC may execute before earlier instructions complete;
// callers sample it after unwinding, long after the allocator's loads that found the block.
inline uint64_t event_time_ns() {
    if (__builtin_expect(!g_event_clock.use_tsc, 0)) return monotonic_ns();
    return tsc_to_ns(__rdtsc());
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
