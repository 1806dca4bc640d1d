// Which blocks are live at a clean exit, and where the analyzer says they came from.
#include "integration_test.h"

#include <algorithm>
#include <cstdint>
#include <string>

namespace memtrace::integration {
namespace {

using nlohmann::json;

// glibc (2.36) callocs one dynamic TLS vector for every thread stack it creates.
constexpr uint64_t kTlsVectorsPerThread = 1;

class LeakSites : public IntegrationTest {};

TEST_F(LeakSites, DirectLeaksAreNamedWithExactSizes) {
    ProcessResult run = trace("leak_direct");
    ASSERT_TRUE(run.exited()) << run.describe();
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    EXPECT_NE(run.err.find(dump_of("leak_direct").string()), std::string::npos)
        << "memtrace run must print the dump path on stderr\n"
        << run.err;
    EXPECT_NE(run.err.find("4396"), std::string::npos)
        << "memtrace run must print the leaked total on stderr\n"
        << run.err;

    json leaks = leaks_json(dump_of("leak_direct")).json;
    EXPECT_EQ(file_name(leaks.at("program").get<std::string>()), "leak_direct");
    expect_end(leaks, "exit", true, 0, std::nullopt);
    expect_totals(leaks, 3 * 100 + 4096, 4);
    expect_largest_first(leaks);
    expect_site_functions(leaks, {"leak_page", "leak_hundred"});
    expect_site(leaks,
                {"leak_hundred", 300, 3, "leak_direct.c", "leak_hundred", "leak_direct", "main"});
    expect_site(leaks, {"leak_page", 4096, 1, "leak_direct.c", "leak_page", "leak_direct", "main"});
}

TEST_F(LeakSites, ReportCountsEveryEvent) {
    ProcessResult run = trace("leak_direct");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json report = report_json(dump_of("leak_direct")).json;
    SCOPED_TRACE(report.dump(2));
    EXPECT_EQ(file_name(report.at("program").get<std::string>()), "leak_direct");
    ASSERT_EQ(report.at("argv").size(), 1u);
    EXPECT_EQ(report.at("argv").at(0).get<std::string>(), program("leak_direct").string());
    expect_end(report, "exit", true, 0, std::nullopt);
    EXPECT_GE(report.at("duration_s").get<double>(), 0.0);
    // 3 x 100 + 4096 leaked, 10 scratch blocks of 1000..1009 bytes allocated and freed.
    const json& totals = report.at("totals");
    EXPECT_EQ(totals.at("allocations").get<uint64_t>(), 14u);
    EXPECT_EQ(totals.at("frees").get<uint64_t>(), 10u);
    EXPECT_EQ(totals.at("bytes_allocated").get<uint64_t>(), 300u + 4096u + 10045u);
    // The largest moment: everything leaked, plus the biggest scratch block.
    EXPECT_EQ(report.at("peak").at("bytes").get<uint64_t>(), 4396u + 1009u);
    EXPECT_EQ(report.at("peak").at("blocks").get<uint64_t>(), 5u);
    EXPECT_EQ(report.at("leaked").at("bytes").get<uint64_t>(), 4396u);
    EXPECT_EQ(report.at("leaked").at("blocks").get<uint64_t>(), 4u);
}

TEST_F(LeakSites, DefaultDumpNameCarriesProgramAndPid) {
    ProcessSpec spec = memtrace_run_spec(dir(), {}, {program("leak_direct").string()});
    ProcessResult run = run_process(spec);
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    auto dumps = dumps_in_dir();
    ASSERT_EQ(dumps.size(), 1u) << run.describe();
    std::string name = dumps.front().filename().string();
    const std::string prefix = "memtrace.leak_direct.";
    ASSERT_EQ(name.rfind(prefix, 0), 0u) << name;
    std::string pid_text = name.substr(prefix.size(), name.size() - prefix.size() - 4);
    ASSERT_FALSE(pid_text.empty());
    EXPECT_TRUE(std::all_of(pid_text.begin(), pid_text.end(), ::isdigit)) << name;
    EXPECT_NE(run.err.find(name), std::string::npos) << run.err;

    json leaks = leaks_json(dumps.front()).json;
    EXPECT_EQ(leaks.at("pid").get<uint64_t>(), std::stoull(pid_text));
    expect_totals(leaks, 4396, 4);
}

TEST_F(LeakSites, DepthLimitTruncatesStacks) {
    ProcessResult run = run_process(
        memtrace_run_spec(dir(), {"--depth", "2", "-o", dump_of("leak_direct").string()},
                          {program("leak_direct").string()}));
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json leaks = leaks_json(dump_of("leak_direct")).json;
    expect_totals(leaks, 4396, 4);
    for (const json& site : leaks.at("sites")) {
        SCOPED_TRACE(describe_sites(leaks));
        // leak_* <- main <- libc start code: deeper than 2 frames, so the limit cuts it.
        ASSERT_EQ(site.at("frames").size(), 2u);
        EXPECT_TRUE(site.at("truncated").get<bool>());
        EXPECT_EQ(site.at("frames").at(1).at("function").get<std::string>(), "main");
    }
}

TEST_F(LeakSites, NothingLiveWhenEverythingIsFreedAcrossThreads) {
    ProcessResult run = trace("no_leak");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    EXPECT_EQ(run.out, "no_leak done\n");
    json leaks = leaks_json(dump_of("no_leak")).json;
    expect_end(leaks, "exit", true, 0, std::nullopt);
    expect_totals(leaks, 0, 0);
    EXPECT_TRUE(leaks.at("sites").empty()) << describe_sites(leaks);

    json report = report_json(dump_of("no_leak")).json;
    SCOPED_TRACE(report.dump(2));
    // 64 + 64 blocks through the two workers, realloc(NULL) + realloc, posix_memalign,
    // aligned_alloc; free(NULL) records nothing. Plus, per thread, glibc's TLS vector for the
    // new thread stack (calloc'd by ld.so, freed at join since the stack cache is off).
    const uint64_t events = 64 + 64 + 2 + 2 + kTlsVectorsPerThread * 2;
    EXPECT_EQ(report.at("totals").at("allocations").get<uint64_t>(), events);
    EXPECT_EQ(report.at("totals").at("frees").get<uint64_t>(), events);
    EXPECT_EQ(report.at("anomalies").at("unknown_frees").get<uint64_t>(), 0u);
    EXPECT_EQ(report.at("anomalies").at("replaced_blocks").get<uint64_t>(), 0u);
}

TEST_F(LeakSites, ReallocChainKeepsOnlyTheLastBlock) {
    ProcessResult run = trace("realloc_chain");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json leaks = leaks_json(dump_of("realloc_chain")).json;
    expect_totals(leaks, 24 + 40, 2);
    expect_site_functions(leaks, {"grow_chain", "start_with_null"});
    expect_site(leaks,
                {"grow_chain", 24, 1, "realloc_chain.c", "grow_chain", "realloc_chain", "main"});
    expect_site(leaks, {"start_with_null", 40, 1, "realloc_chain.c", "start_with_null",
                        "realloc_chain", "main"});

    json report = report_json(dump_of("realloc_chain")).json;
    SCOPED_TRACE(report.dump(2));
    // realloc(NULL, n) is an allocation only, realloc(p, 0) a free only, any other realloc
    // one free plus one allocation.
    EXPECT_EQ(report.at("totals").at("allocations").get<uint64_t>(), 7u);
    EXPECT_EQ(report.at("totals").at("frees").get<uint64_t>(), 5u);
    EXPECT_EQ(report.at("totals").at("bytes_allocated").get<uint64_t>(),
              16u + 64u + 1000u + 10000u + 24u + 40u + 50u);
}

TEST_F(LeakSites, EveryAllocationFunctionIsTraced) {
    ProcessResult run = trace("malloc_family");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json leaks = leaks_json(dump_of("malloc_family")).json;
    struct Entry {
        const char* function;
        uint64_t bytes;
    };
    const Entry entries[] = {
        {"from_malloc", 1001},       {"from_calloc", 1010},         {"from_realloc", 1020},
        {"from_reallocarray", 1030}, {"from_posix_memalign", 1040}, {"from_aligned_alloc", 1280},
        {"from_memalign", 1050},     {"from_valloc", 1060},         {"from_pvalloc", 8192},
    };
    uint64_t total = 0;
    std::vector<std::string> functions;
    for (const Entry& entry : entries) {
        expect_site(leaks, {entry.function, entry.bytes, 1, "malloc_family.c", entry.function,
                            "malloc_family", "main"});
        total += entry.bytes;
        functions.push_back(entry.function);
    }
    expect_site_functions(leaks, functions);
    expect_totals(leaks, total, 9);
    expect_largest_first(leaks);
}

} // namespace
} // namespace memtrace::integration
