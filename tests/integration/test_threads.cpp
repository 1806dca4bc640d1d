// Allocations from many threads at once.
#include "integration_test.h"

namespace memtrace::integration {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class Threads : public IntegrationTest {};

TEST_F(Threads, EachThreadsLeaksAreCounted) {
    ProcessResult run = trace("threads_leak");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json leaks = leaks_json(dump_of("threads_leak")).json;
    expect_end(leaks, "exit", true, 0, std::nullopt);
    // 4 threads: 3 x 256 from leak_small and 1 x 1024 from leak_large each.
    expect_totals(leaks, 4 * (3 * 256 + 1024), 16);
    expect_site_functions(leaks, {"leak_small", "leak_large"});
    expect_site(leaks, {"leak_small", 4 * 3 * 256, 12, "threads_leak.c", "leak_small",
                        "threads_leak", "thread_main"});
    expect_site(leaks, {"leak_large", 4 * 1024, 4, "threads_leak.c", "leak_large", "threads_leak",
                        "thread_main"});
}

TEST_F(Threads, TwoHundredConcurrentThreads) {
    ProcessResult run = trace("many_threads", {}, 120s);
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json leaks = leaks_json(dump_of("many_threads")).json;
    expect_end(leaks, "exit", true, 0, std::nullopt);
    // Thread i leaks 100 + i bytes: 200 * 100 + (0 + 1 + ... + 199).
    const uint64_t bytes = 200 * 100 + 199 * 200 / 2;
    expect_totals(leaks, bytes, 200);
    expect_site_functions(leaks, {"leak_per_thread"});
    expect_site(leaks, {"leak_per_thread", bytes, 200, "many_threads.c", "leak_per_thread",
                        "many_threads", "thread_main"});

    json report = report_json(dump_of("many_threads")).json;
    // Per thread: 500 ring allocations, 1 leak; 500 ring frees (8 of them after the loop);
    // and glibc's TLS vector for the thread's new stack, freed at join (no stack cache).
    EXPECT_EQ(report.at("totals").at("allocations").get<uint64_t>(), 200u * (501u + 1u));
    EXPECT_EQ(report.at("totals").at("frees").get<uint64_t>(), 200u * (500u + 1u));
    // Every free matched an allocation the dump holds: no event was lost or misordered.
    EXPECT_EQ(report.at("anomalies").at("unknown_frees").get<uint64_t>(), 0u);
    EXPECT_EQ(report.at("anomalies").at("replaced_blocks").get<uint64_t>(), 0u);
}

// Event times are fine only where another thread's event on the same block may precede (the
// live map's thread tags, docs/design.md "Event times"); here almost every block crosses.
TEST_F(Threads, BlocksHandedBetweenThreadsReplayInOrder) {
    ProcessResult run = trace("handoff_threads", {}, 120s);
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json leaks = leaks_json(dump_of("handoff_threads")).json;
    expect_end(leaks, "exit", true, 0, std::nullopt);
    // Thread i leaks 1000 + i bytes; nothing else is left.
    expect_totals(leaks, 4 * 1000 + 0 + 1 + 2 + 3, 4);
    // One site for the producers' leaks, one for the consumers'.
    expect_site_functions(leaks, {"leak_one", "leak_one"});

    json report = report_json(dump_of("handoff_threads")).json;
    // 2 pairs x 100,000 handoffs each way, the leaks, and glibc's TLS vector of each thread.
    EXPECT_EQ(report.at("totals").at("allocations").get<uint64_t>(), 2u * 2u * 100000u + 4u + 4u);
    EXPECT_EQ(report.at("totals").at("frees").get<uint64_t>(), 2u * 2u * 100000u + 4u);
    EXPECT_EQ(report.at("anomalies").at("unknown_frees").get<uint64_t>(), 0u);
    EXPECT_EQ(report.at("anomalies").at("replaced_blocks").get<uint64_t>(), 0u);
}

} // namespace
} // namespace memtrace::integration
