// The memory views (issue 6): the size-class histogram, glibc's arenas, the program's own
// mappings, the doctor section of `memtrace report`, and CPython's pymalloc.
#include "integration_test.h"
#include "memory_views.h"

#include <regex>
#include <sstream>

namespace memtrace::integration {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1024 * 1024;

// "usable SIZE BYTES" lines printed by size_classes.c.
std::map<uint64_t, uint64_t> usable_by_size(const std::string& out) {
    std::map<uint64_t, uint64_t> usable;
    std::istringstream lines(out);
    std::string word;
    uint64_t size = 0;
    uint64_t bytes = 0;
    while (lines >> word >> size >> bytes)
        if (word == "usable") usable[size] = bytes;
    return usable;
}

// The number after "<label> " in a program's output.
uint64_t printed_number(const std::string& out, const std::string& label) {
    const std::regex pattern(label + " ([0-9]+)");
    std::smatch match;
    if (!std::regex_search(out, match, pattern))
        throw std::runtime_error("no '" + label + " N' in: " + out);
    return std::stoull(match[1]);
}

class Histogram : public IntegrationTest {};

TEST_F(Histogram, ExactCountsForKnownRequestSizes) {
    ProcessResult run = trace("size_classes");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    const std::map<uint64_t, uint64_t> usable = usable_by_size(run.out);
    ASSERT_EQ(usable.size(), 9u) << run.out;

    json histogram = memory_view_json("histogram", dump_of("size_classes").string(), dir()).json;
    EXPECT_EQ(histogram.at("has_totals"), true);
    EXPECT_EQ(histogram.at("sampled"), false);
    EXPECT_TRUE(histogram.at("snapshot").is_null());

    struct Expected {
        uint64_t min_size, max_size, request, count, live;
    };
    // size_classes.c: one request size per class; `live` blocks of each are never freed.
    const Expected expected[] = {
        {0, 8, 1, 10, 4},       {9, 16, 16, 20, 20},        {17, 24, 24, 5, 0},
        {97, 104, 100, 30, 20}, {193, 200, 200, 6, 6},      {505, 512, 512, 7, 7},
        {513, 1024, 513, 3, 2}, {2049, 4096, 3000, 11, 11}, {131073, 262144, 200000, 2, 2},
    };
    const auto classes = classes_by_max_size(histogram);
    // Nothing else in the process allocates: exactly these classes appear.
    ASSERT_EQ(classes.size(), std::size(expected)) << histogram.dump(1);
    uint64_t total_count = 0;
    for (const Expected& e : expected) {
        SCOPED_TRACE("class ending at " + std::to_string(e.max_size));
        ASSERT_EQ(classes.count(e.max_size), 1u);
        const json& c = classes.at(e.max_size);
        EXPECT_EQ(c.at("min_size").get<uint64_t>(), e.min_size);
        EXPECT_EQ(c.at("count").get<uint64_t>(), e.count);
        EXPECT_EQ(c.at("requested_bytes").get<uint64_t>(), e.count * e.request);
        // What malloc_usable_size() said in the program, block by block.
        EXPECT_EQ(c.at("usable_bytes").get<uint64_t>(), usable.at(e.request));
        EXPECT_EQ(c.at("waste_bytes").get<uint64_t>(), usable.at(e.request) - e.count * e.request);
        EXPECT_EQ(c.at("live_count").get<uint64_t>(), e.live);
        EXPECT_EQ(c.at("live_bytes").get<uint64_t>(), e.live * e.request);
        total_count += e.count;
    }
    EXPECT_EQ(histogram.at("totals").at("count").get<uint64_t>(), total_count);

    // DUMP@end is the same final state; a snapshot the dump does not have is an error.
    json at_end =
        memory_view_json("histogram", dump_of("size_classes").string() + "@end", dir()).json;
    EXPECT_EQ(at_end.at("classes"), histogram.at("classes"));
    ProcessResult missing =
        memory_view_text("histogram", dump_of("size_classes").string() + "@no-such-label", dir());
    EXPECT_EQ(missing.exit_code(), 1) << missing.describe();
    EXPECT_NE(missing.err.find("no snapshot labelled \"no-such-label\""), std::string::npos)
        << missing.err;

    ProcessResult text = memory_view_text("histogram", dump_of("size_classes").string(), dir());
    ASSERT_EQ(text.exit_code(), 0) << text.describe();
    EXPECT_NE(text.out.find("(131072,262144]"), std::string::npos) << text.out;
}

TEST_F(Histogram, SamplingStillCountsEveryAllocation) {
    // One sample per GiB: nothing is sampled, everything is counted. Past the first 64 blocks
    // (the header checks) the small ones are counted before the call, with glibc's rounding.
    ProcessResult run = run_process(
        memtrace_run_spec(dir(), {"--sample", "1G", "-o", dump_of("size_classes").string()},
                          {program("size_classes").string()}));
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    const std::map<uint64_t, uint64_t> usable = usable_by_size(run.out);
    ASSERT_EQ(usable.size(), 9u) << run.out;
    json histogram = memory_view_json("histogram", dump_of("size_classes").string(), dir()).json;
    EXPECT_EQ(histogram.at("sampled"), true);
    const std::pair<uint64_t, uint64_t> counts[] = {{1, 10},   {16, 20},   {24, 5},
                                                    {100, 30}, {200, 6},   {512, 7},
                                                    {513, 3},  {3000, 11}, {200000, 2}};
    uint64_t total_count = 0;
    for (const auto& [request, count] : counts) {
        SCOPED_TRACE("request " + std::to_string(request));
        const json* found = nullptr;
        for (const json& c : histogram.at("classes"))
            if (c.at("min_size").get<uint64_t>() <= request &&
                request <= c.at("max_size").get<uint64_t>())
                found = &c;
        ASSERT_NE(found, nullptr) << histogram.dump(1);
        EXPECT_EQ(found->at("count").get<uint64_t>(), count);
        EXPECT_EQ(found->at("requested_bytes").get<uint64_t>(), count * request);
        EXPECT_EQ(found->at("usable_bytes").get<uint64_t>(), usable.at(request));
        total_count += count;
    }
    EXPECT_EQ(histogram.at("totals").at("count").get<uint64_t>(), total_count);
}

class Arenas : public IntegrationTest {
protected:
    ProcessResult trace_with_arena_max(const std::string& arena_max) {
        ProcessSpec spec = memtrace_run_spec(dir(), {"-o", dump_of("arena_threads").string()},
                                             {program("arena_threads").string()});
        if (arena_max.empty()) {
            spec.env_removed.emplace_back("MALLOC_ARENA_MAX");
        } else {
            spec.env_overrides["MALLOC_ARENA_MAX"] = arena_max;
        }
        return run_process(spec);
    }
};

TEST_F(Arenas, SixteenConcurrentThreadsGetSeveralArenas) {
    ProcessResult run = trace_with_arena_max("");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json arenas = memory_view_json("arenas", dump_of("arena_threads").string(), dir()).json;
    ASSERT_FALSE(arenas.at("samples").empty()) << "no memory samples in the dump";
    ASSERT_TRUE(arenas.at("arena_count").is_number()) << arenas.dump(1);
    EXPECT_GT(arenas.at("arena_count").get<uint64_t>(), 1u);
    const json& last = arenas.at("samples").back();
    EXPECT_EQ(last.at("arena_count"), arenas.at("arena_count"));
    EXPECT_EQ(last.at("arenas").size(), arenas.at("arena_count").get<size_t>());
    EXPECT_GT(last.at("process").at("vm_rss").get<uint64_t>(), 0u);
    for (const json& arena : last.at("arenas")) {
        EXPECT_EQ(arena.at("system_bytes").get<uint64_t>(),
                  arena.at("in_use_bytes").get<uint64_t>() +
                      arena.at("free_bytes").get<uint64_t>());
        if (arena.at("number") != 0) {
            EXPECT_GE(arena.at("heaps").get<uint64_t>(), 1u);
        }
    }

    json report = report_json(dump_of("arena_threads")).json;
    ASSERT_EQ(report.at("doctor").at("available"), true) << report.at("doctor").dump(1);
    EXPECT_EQ(report.at("doctor").at("accounting").at("arena_count"), arenas.at("arena_count"));
    EXPECT_EQ(doctor_findings(report, "arenas").size(), 1u);
}

TEST_F(Arenas, ArenaMaxOfOneMeansOneArena) {
    ProcessResult run = trace_with_arena_max("1");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json arenas = memory_view_json("arenas", dump_of("arena_threads").string(), dir()).json;
    ASSERT_FALSE(arenas.at("samples").empty()) << "no memory samples in the dump";
    EXPECT_EQ(arenas.at("arena_count"), 1);
    for (const json& sample : arenas.at("samples"))
        if (!sample.at("arena_count").is_null()) {
            EXPECT_EQ(sample.at("arena_count"), 1);
        }
    json report = report_json(dump_of("arena_threads")).json;
    EXPECT_TRUE(doctor_findings(report, "arenas").empty());
}

TEST_F(Arenas, PeriodicSnapshotsGiveSamplesOverTime) {
    // fragmentation.c makes 1.5 million calls, which take far longer than 20 ms even natively
    // (10 ms is the shortest interval).
    ProcessSpec spec = memtrace_run_spec(dir(), {"-o", dump_of("fragmentation").string()},
                                         {program("fragmentation").string()});
    spec.env_overrides["MEMTRACE_INTERVAL"] = "0.01";
    spec.timeout = 180s;
    ProcessResult run = run_process(spec);
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json arenas = memory_view_json("arenas", dump_of("fragmentation").string(), dir()).json;
    const json& samples = arenas.at("samples");
    ASSERT_GE(samples.size(), 2u) << arenas.dump(1);
    double previous_time = -1;
    for (const json& sample : samples) {
        EXPECT_GT(sample.at("time_s").get<double>(), previous_time);
        previous_time = sample.at("time_s").get<double>();
        // An interval snapshot may leave malloc_info out when its walk would take long
        // (design.md): after the program freed half its blocks. The first one here comes while
        // the blocks are being allocated, and the exit's always has it.
        if (!sample.at("arena_count").is_null()) {
            EXPECT_EQ(sample.at("arena_count"), 1);
        }
        EXPECT_GT(sample.at("process").at("vm_rss").get<uint64_t>(), 0u);
    }
    EXPECT_EQ(samples.front().at("arena_count"), 1);
    EXPECT_EQ(samples.back().at("arena_count"), 1);
    // At exit: 500000 blocks of 48 bytes live.
    EXPECT_EQ(samples.back().at("live_heap_bytes").get<uint64_t>(), 500000u * 48u);

    // The histogram at the first snapshot counts fewer allocations than the whole run.
    json first =
        memory_view_json("histogram", dump_of("fragmentation").string() + "@1", dir()).json;
    json whole = memory_view_json("histogram", dump_of("fragmentation").string(), dir()).json;
    EXPECT_EQ(first.at("snapshot").at("number"), 1);
    EXPECT_LT(first.at("totals").at("count").get<uint64_t>(),
              whole.at("totals").at("count").get<uint64_t>());
    EXPECT_EQ(classes_by_max_size(whole).at(48).at("count").get<uint64_t>(), 1000000u);
    EXPECT_EQ(classes_by_max_size(whole).at(48).at("live_count").get<uint64_t>(), 500000u);
}

class Doctor : public IntegrationTest {};

TEST_F(Doctor, RetainedFreeBytesAgreeWithMallinfo2) {
    ProcessResult run = trace("fragmentation", {}, 180s);
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    const uint64_t fordblks = printed_number(run.out, "fordblks");
    ASSERT_GT(fordblks, 20 * kMiB) << run.out; // 500000 freed chunks of 64 bytes

    json report = report_json(dump_of("fragmentation")).json;
    const json& doctor = report.at("doctor");
    ASSERT_EQ(doctor.at("available"), true) << doctor.dump(1);
    EXPECT_EQ(doctor.at("at_exit"), true);
    const auto retained = doctor.at("accounting").at("arena_free_bytes").get<uint64_t>();
    EXPECT_NEAR(static_cast<double>(retained), static_cast<double>(fordblks), 0.10 * fordblks);
    // Every freed chunk is 64 bytes between two live ones: fragmentation, not trimmable.
    EXPECT_GE(doctor.at("accounting").at("small_free_bytes").get<uint64_t>() * 2, retained);
    const auto findings = doctor_findings(report, "free_retained");
    ASSERT_EQ(findings.size(), 1u) << doctor.dump(1);
    EXPECT_EQ(findings[0].at("bytes").get<uint64_t>(), retained);
    EXPECT_NE(findings[0].at("advice").get<std::string>().find("fragmentation"), std::string::npos);
    // 500000 live blocks of 48 bytes.
    EXPECT_EQ(doctor.at("accounting").at("live_heap_bytes").get<uint64_t>(), 500000u * 48u);
}

TEST_F(Doctor, NeverUnmappedRegionIsReportedWithItsStack) {
    ProcessResult run = trace("anon_mmap");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();

    json arenas = memory_view_json("arenas", dump_of("anon_mmap").string(), dir()).json;
    const json& mappings = arenas.at("mappings");
    // 8 MiB from map_scratch_region and the 1 MiB map_then_trim kept; map_and_release's 4 MiB
    // went away again.
    EXPECT_EQ(mappings.at("live_bytes").get<uint64_t>(), 9 * kMiB) << mappings.dump(1);
    bool scratch = false;
    bool trimmed = false;
    for (const json& site : mappings.at("sites")) {
        EXPECT_FALSE(frames_name(site.at("frames"), "map_and_release")) << site.dump(1);
        if (frames_name(site.at("frames"), "map_scratch_region")) {
            scratch = true;
            EXPECT_EQ(site.at("live_bytes").get<uint64_t>(), 8 * kMiB);
            EXPECT_EQ(site.at("live_regions").get<uint64_t>(), 1u);
            EXPECT_EQ(site.at("frames").at(0).at("line").get<unsigned>(),
                      site_line("anon_mmap.c", "map_scratch_region"));
        }
        if (frames_name(site.at("frames"), "map_then_trim")) {
            trimmed = true;
            EXPECT_EQ(site.at("live_bytes").get<uint64_t>(), 1 * kMiB);
        }
    }
    EXPECT_TRUE(scratch) << mappings.dump(1);
    EXPECT_TRUE(trimmed) << mappings.dump(1);

    json report = report_json(dump_of("anon_mmap")).json;
    const auto findings = doctor_findings(report, "mmap");
    ASSERT_EQ(findings.size(), 1u) << report.at("doctor").dump(1);
    EXPECT_EQ(findings[0].at("bytes").get<uint64_t>(), 9 * kMiB);
    ASSERT_FALSE(findings[0].at("stacks").empty());
    EXPECT_TRUE(frames_name(findings[0].at("stacks").at(0).at("frames"), "map_scratch_region"))
        << findings[0].dump(1);
    EXPECT_FALSE(findings[0].at("advice").is_null());
}

// The system's interpreter (Debian's python3), as the issue asks.
const char* const kSystemPython = "/usr/bin/python3";

class Python : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        if (!std::filesystem::exists(kSystemPython))
            GTEST_SKIP() << kSystemPython << " is not installed; the Python tests need it";
    }
    ProcessResult trace_python(const std::vector<std::string>& launcher_args) {
        std::vector<std::string> args = {"-o", dump_of("python").string()};
        args.insert(args.end(), launcher_args.begin(), launcher_args.end());
        ProcessSpec spec = memtrace_run_spec(
            dir(), args, {kSystemPython, program_source("python_objects.py").string()});
        spec.env_removed.emplace_back("PYTHONMALLOC");
        spec.timeout = 180s;
        return run_process(spec);
    }
};

TEST_F(Python, PymallocArenasAreSeenThroughMmap) {
    ProcessResult run = trace_python({});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    // CPython's own account: "<N> arenas * <S> bytes/arena" and "# arenas allocated total".
    std::smatch match;
    ASSERT_TRUE(std::regex_search(run.err, match,
                                  std::regex("([0-9]+) arenas \\* ([0-9]+) "
                                             "bytes/arena")))
        << run.err;
    const uint64_t arena_size = std::stoull(match[2]);
    ASSERT_TRUE(
        std::regex_search(run.err, match, std::regex("# arenas allocated total += +([0-9,]+)")))
        << run.err;
    std::string total_text = match[1];
    std::erase(total_text, ',');
    const uint64_t allocated_total = std::stoull(total_text);

    json arenas = memory_view_json("arenas", dump_of("python").string(), dir()).json;
    const json& python = arenas.at("python");
    ASSERT_EQ(python.at("detected"), true) << arenas.at("mappings").dump(1);
    EXPECT_EQ(python.at("arena_size").get<uint64_t>(), arena_size);
    // Every arena CPython counted was an mmap call the preload saw (finalization may add more).
    EXPECT_GE(python.at("arenas_mapped").get<uint64_t>(), allocated_total);
    EXPECT_GE(python.at("live_bytes").get<uint64_t>(), 20 * arena_size); // the rows stay alive

    json report = report_json(dump_of("python")).json;
    const auto findings = doctor_findings(report, "pymalloc");
    ASSERT_EQ(findings.size(), 1u) << report.at("doctor").dump(1);
    EXPECT_NE(findings[0].at("advice").get<std::string>().find("--python-malloc"),
              std::string::npos);
}

TEST_F(Python, PythonMallocGivesAHistogramOfSmallClasses) {
    ProcessResult run = trace_python({"--python-malloc"});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    // PYTHONMALLOC=malloc: pymalloc maps no arena.
    EXPECT_EQ(run.err.find("bytes/arena"), std::string::npos) << run.err;
    json histogram = memory_view_json("histogram", dump_of("python").string(), dir()).json;
    uint64_t small = 0;
    uint64_t all = 0;
    for (const json& c : histogram.at("classes")) {
        all += c.at("count").get<uint64_t>();
        if (c.at("max_size").get<uint64_t>() <= 512) small += c.at("count").get<uint64_t>();
    }
    // 200000 rows of a str, a float, a list and a tuple each, all under 512 bytes.
    EXPECT_GT(all, 800000u);
    EXPECT_GE(static_cast<double>(small), 0.9 * static_cast<double>(all)) << small << " of " << all;
    json arenas = memory_view_json("arenas", dump_of("python").string(), dir()).json;
    EXPECT_EQ(arenas.at("python").at("detected"), false);
}

} // namespace
} // namespace memtrace::integration
