// The event clock of a program with one thread (clock.h, ThreadClock): a fine time reused while
// the kernel's coarse clock stands still and no other record was written.
#include "clock.h"

#include <gtest/gtest.h>

namespace mp = memtrace::preload;

namespace {

// Spins until the coarse clock moves on (a tick: 1 to 10 ms).
uint64_t next_coarse_tick() {
    const uint64_t start = mp::coarse_monotonic_ns();
    uint64_t now = start;
    while (now == start)
        now = mp::coarse_monotonic_ns();
    return now;
}

} // namespace

TEST(ThreadClock, ReusesOneFineReadWithinACoarseTick) {
    mp::ThreadClock clock{};
    next_coarse_tick();
    // Two reads right after a tick: the next one is milliseconds away.
    const uint64_t first = mp::thread_clock_ns(clock);
    const uint64_t second = mp::thread_clock_ns(clock);
    if (mp::coarse_monotonic_ns() == clock.coarse) {
        EXPECT_EQ(second, first);
    }
    next_coarse_tick();
    EXPECT_GT(mp::thread_clock_ns(clock), first);
}

TEST(ThreadClock, StaysBetweenTheCoarseAndTheFineClock) {
    mp::ThreadClock clock{};
    uint64_t previous = 0;
    for (int i = 0; i < 100000; ++i) {
        const uint64_t coarse = mp::coarse_monotonic_ns();
        const uint64_t time = mp::thread_clock_ns(clock);
        const uint64_t fine = mp::fine_time_ns();
        ASSERT_GE(time, coarse);
        ASSERT_LE(time, fine);
        ASSERT_GE(time, previous); // never backwards
        previous = time;
    }
}

TEST(ThreadClock, AnEventAfterAnotherRecordIsTimedAfterIt) {
    mp::ThreadClock clock{};
    next_coarse_tick();
    const uint64_t before = mp::thread_clock_ns(clock);
    const uint64_t record = mp::record_time_ns(); // a snapshot, say
    const uint64_t after = mp::thread_clock_ns(clock);
    EXPECT_GE(record, before);
    EXPECT_GT(after, record); // without the epoch it would still be `before`
}
