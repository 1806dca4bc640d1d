// MEMTRACE_INTERVAL and MEMTRACE_SNAPSHOT_SIGNAL parsing, and the /proc/self/status parser.
#include "options.h"
#include "proc_status.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <string>

namespace memtrace::preload {
namespace {

TEST(IntervalOption, DecimalSecondsBecomeMilliseconds) {
    EXPECT_EQ(parse_interval_ms("1", 7), 1000u);
    EXPECT_EQ(parse_interval_ms("0.2", 7), 200u);
    EXPECT_EQ(parse_interval_ms(".5", 7), 500u);
    EXPECT_EQ(parse_interval_ms("2.", 7), 2000u);
    EXPECT_EQ(parse_interval_ms("1.25", 7), 1250u);
    EXPECT_EQ(parse_interval_ms("0.1239", 7), 123u); // beyond milliseconds is dropped
    EXPECT_EQ(parse_interval_ms("30", 7), 30000u);
}

TEST(IntervalOption, ZeroTurnsPeriodicSnapshotsOff) {
    EXPECT_EQ(parse_interval_ms("0", 7), 0u);
    EXPECT_EQ(parse_interval_ms("0.000", 7), 0u);
}

TEST(IntervalOption, ExtremesAreClamped) {
    EXPECT_EQ(parse_interval_ms("0.001", 7), kMinIntervalMs);
    EXPECT_EQ(parse_interval_ms("0.00001", 7), kMinIntervalMs);
    EXPECT_EQ(parse_interval_ms("86400", 7), kMaxIntervalMs);
    EXPECT_EQ(parse_interval_ms("99999999999999999999999", 7), kMaxIntervalMs);
}

TEST(IntervalOption, AnythingElseGivesTheFallback) {
    for (const char* text : {"", "abc", "-1", "1e3", "1s", " 1", "1.2.3", "."})
        EXPECT_EQ(parse_interval_ms(text, 7), 7u) << '"' << text << '"';
    EXPECT_EQ(parse_interval_ms(nullptr, 7), 7u);
}

TEST(SignalOption, NamesWithOrWithoutSigAndNumbers) {
    EXPECT_EQ(parse_signal("USR1", 0), SIGUSR1);
    EXPECT_EQ(parse_signal("SIGUSR1", 0), SIGUSR1);
    EXPECT_EQ(parse_signal("sigusr2", 0), SIGUSR2);
    EXPECT_EQ(parse_signal("Hup", 0), SIGHUP);
    EXPECT_EQ(parse_signal("10", 0), 10);
    EXPECT_EQ(parse_signal(std::to_string(SIGRTMIN + 1).c_str(), 0), SIGRTMIN + 1);
}

TEST(SignalOption, OffAndDefault) {
    EXPECT_EQ(parse_signal("0", SIGUSR2), 0);
    EXPECT_EQ(parse_signal("off", SIGUSR2), 0);
    EXPECT_EQ(parse_signal("OFF", SIGUSR2), 0);
    EXPECT_EQ(parse_signal("none", SIGUSR2), 0);
    EXPECT_EQ(parse_signal("", SIGUSR2), SIGUSR2);
    EXPECT_EQ(parse_signal(nullptr, SIGUSR2), SIGUSR2);
}

TEST(SignalOption, UnusableOrUnknownSignalsAreRejected) {
    for (const char* text : {"KILL", "SIGSTOP", "SEGV", "SIGABRT", "BUS", "FPE", "ILL", "TRAP",
                             "SYS", "9", "32", "33", "65", "1000", "USR3", "SIG", "12x"})
        EXPECT_EQ(parse_signal(text, SIGUSR2), -1) << text;
}

constexpr char kStatus[] = "Name:\tcat\n"
                           "Pid:\t9024\n"
                           "VmPeak:\t    3060 kB\n"
                           "VmSize:\t    3000 kB\n"
                           "VmHWM:\t    1800 kB\n"
                           "VmRSS:\t    1764 kB\n"
                           "RssAnon:\t     112 kB\n"
                           "RssFile:\t    1652 kB\n"
                           "RssShmem:\t       0 kB\n"
                           "Threads:\t3\n"
                           "SigQ:\t0/96365\n";

TEST(ProcessStatus, ParsesKilobytesIntoBytesAndThreads) {
    format::ProcessMemory memory{};
    parse_process_status(kStatus, sizeof(kStatus) - 1, &memory);
    EXPECT_EQ(memory.vm_rss, 1764u * 1024);
    EXPECT_EQ(memory.vm_size, 3000u * 1024);
    EXPECT_EQ(memory.vm_hwm, 1800u * 1024);
    EXPECT_EQ(memory.rss_anon, 112u * 1024);
    EXPECT_EQ(memory.rss_file, 1652u * 1024);
    EXPECT_EQ(memory.threads, 3u);
}

TEST(ProcessStatus, MissingFieldsAndCutTextStayZero) {
    format::ProcessMemory memory{};
    constexpr char kCut[] = "VmSize:\t 10 kB\nThreads:\t2\nVmRSS:\t 5";
    parse_process_status(kCut, sizeof(kCut) - 1, &memory);
    EXPECT_EQ(memory.vm_size, 10u * 1024);
    EXPECT_EQ(memory.threads, 2u);
    EXPECT_EQ(memory.vm_rss, 5u * 1024);
    EXPECT_EQ(memory.rss_anon, 0u);
    EXPECT_EQ(memory.vm_hwm, 0u);
}

TEST(ProcessStatus, ReadsThisProcess) {
    format::ProcessMemory memory{};
    ASSERT_TRUE(read_process_memory(&memory));
    EXPECT_GT(memory.vm_rss, 0u);
    EXPECT_GE(memory.vm_size, memory.vm_rss);
    EXPECT_GE(memory.vm_hwm, memory.vm_rss);
    EXPECT_GE(memory.threads, 1u);
}

} // namespace
} // namespace memtrace::preload
