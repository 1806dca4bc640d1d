// `memtrace arenas`, `histogram` and the doctor of `report` on a crafted dump whose memory
// samples, size-class totals and mappings are known exactly.
#include "dump_builder.h"
#include "heap_model.h"
#include "reports/arenas_report.h"
#include "reports/histogram_report.h"
#include "reports/summary_report.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace memtrace::test {
namespace {

namespace f = memtrace::format;
using nlohmann::json;
constexpr uint64_t T0 = DumpBuilder::kStartNs;
constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kApp = 0x10000000;
constexpr uint64_t kPython = 0x400000;

std::string one_arena(uint64_t system, uint64_t free) {
    return "<malloc version=\"1\"><heap nr=\"0\"><sizes></sizes>"
           "<total type=\"fast\" count=\"0\" size=\"0\"/><total type=\"rest\" count=\"1\" size=\"" +
           std::to_string(free) + "\"/><system type=\"current\" size=\"" + std::to_string(system) +
           "\"/><system type=\"max\" size=\"" + std::to_string(system) +
           "\"/></heap><total type=\"mmap\" count=\"0\" size=\"0\"/></malloc>";
}

std::string two_arenas() {
    return "<malloc version=\"1\"><heap nr=\"0\"><sizes></sizes>"
           "<total type=\"fast\" count=\"0\" size=\"0\"/><total type=\"rest\" count=\"1\" "
           "size=\"100000\"/><system type=\"current\" size=\"1048576\"/></heap>"
           "<heap nr=\"1\"><sizes></sizes><total type=\"fast\" count=\"0\" size=\"0\"/>"
           "<total type=\"rest\" count=\"1\" size=\"200000\"/><system type=\"current\" "
           "size=\"2097152\"/><aspace type=\"subheaps\" size=\"1\"/></heap>"
           "<total type=\"mmap\" count=\"1\" size=\"135168\"/></malloc>";
}

struct CraftedRun {
    TempDir dir;
    std::filesystem::path path = dir / "run.mtd";

    explicit CraftedRun(const std::string& exit_malloc_info = two_arenas()) {
        DumpBuilder dump;
        std::vector<f::SizeClassCounts> early(f::kSizeClassCount);
        early[f::size_class_index(100)] = {1, 100, 104, 0, 0};
        early[f::size_class_index(30)] = {1, 30, 40, 1, 40};
        std::vector<f::SizeClassCounts> late = early;
        late[f::size_class_index(5000)] = {1, 5000, 5016, 0, 0};
        dump.add_chunk(1, T0)
            .module_load(T0, 1, 0, kPython, kPython + 0x400000, "", "/usr/bin/python3.11")
            .module_load(T0, 2, kApp, kApp, kApp + 0x100000, "", "/work/app")
            .stack(T0 + 10, 1, {kApp + 0x100})
            .stack(T0 + 10, 2, {kPython + 0x100, kApp + 0x200})
            .alloc(T0 + 100, 0x1000, 100, 1)
            .alloc(T0 + 110, 0x2000, 30, 1)
            .free(T0 + 150, 0x2000)
            .snapshot(T0 + 200, f::SnapshotTrigger::Interval, "warm")
            .process_memory(T0 + 200, {10 * kMiB, 100 * kMiB, 12 * kMiB, 8 * kMiB, 2 * kMiB, 2})
            .malloc_info(T0 + 200, one_arena(kMiB, 512 * 1024))
            .size_class_totals(T0 + 200, early)
            .map(T0 + 250, 0x7f0000000000, 8 * kMiB, 3, 0x22, 1)
            .map(T0 + 260, 0x7e0000000000, kMiB, 3, 0x22, 2)
            .map(T0 + 261, 0x7e0000100000, kMiB, 3, 0x22, 2)
            .map(T0 + 262, 0x7e0000200000, kMiB, 3, 0x22, 2)
            .unmap(T0 + 270, 0x7e0000100000, kMiB)
            .alloc(T0 + 300, 0x3000, 5000, 1)
            .snapshot(T0 + 400, f::SnapshotTrigger::Exit, "")
            .process_memory(T0 + 400, {30 * kMiB, 200 * kMiB, 31 * kMiB, 25 * kMiB, 5 * kMiB, 3})
            .malloc_info(T0 + 400, exit_malloc_info)
            .size_class_totals(T0 + 400, late);
        dump.write(path);
    }
};

json arenas_json(const std::filesystem::path& path) {
    std::ostringstream out;
    reports::write_arenas_report(path.string(), {.json = true}, out);
    return json::parse(out.str());
}

json histogram_json(const std::filesystem::path& path, const std::string& selector) {
    std::ostringstream out;
    reports::write_histogram_report(path.string() + (selector.empty() ? "" : "@" + selector),
                                    {.json = true}, out);
    return json::parse(out.str());
}

json report_json(const std::filesystem::path& path) {
    std::ostringstream out;
    reports::write_summary_report(path.string(), {.json = true}, out);
    return json::parse(out.str());
}

TEST(ArenasJson, SamplesOverTimeMappingsAndPython) {
    CraftedRun run;
    const json arenas = arenas_json(run.path);
    SCOPED_TRACE(arenas.dump(1));
    EXPECT_EQ(arenas.at("arena_count"), 2);
    ASSERT_EQ(arenas.at("samples").size(), 2u);
    const json& first = arenas.at("samples")[0];
    EXPECT_EQ(first.at("arena_count"), 1);
    EXPECT_EQ(first.at("free_bytes"), 512 * 1024);
    EXPECT_EQ(first.at("in_use_bytes"), 512 * 1024);
    EXPECT_EQ(first.at("process").at("vm_rss"), 10 * kMiB);
    EXPECT_EQ(first.at("live_heap_bytes"), 100);
    EXPECT_EQ(first.at("anon_mmap_bytes"), 0);
    const json& last = arenas.at("samples")[1];
    EXPECT_EQ(last.at("arena_count"), 2);
    EXPECT_EQ(last.at("arenas")[1].at("heaps"), 1);
    EXPECT_EQ(last.at("arenas")[1].at("free_bytes"), 200000);
    EXPECT_EQ(last.at("mmapped_bytes"), 135168);
    EXPECT_EQ(last.at("live_heap_bytes"), 5100);
    EXPECT_EQ(last.at("anon_mmap_bytes"), 10 * kMiB);
    EXPECT_EQ(last.at("process").at("threads"), 3);

    const json& mappings = arenas.at("mappings");
    EXPECT_EQ(mappings.at("live_bytes"), 10 * kMiB);
    EXPECT_EQ(mappings.at("live_regions"), 3);
    ASSERT_EQ(mappings.at("sites").size(), 2u);
    EXPECT_EQ(mappings.at("sites")[0].at("stack_id"), 1);
    EXPECT_EQ(mappings.at("sites")[0].at("live_bytes"), 8 * kMiB);
    EXPECT_EQ(mappings.at("sites")[0].at("python"), false);
    EXPECT_EQ(mappings.at("sites")[1].at("stack_id"), 2);
    EXPECT_EQ(mappings.at("sites")[1].at("python"), true);
    EXPECT_EQ(mappings.at("sites")[1].at("maps"), 3);
    EXPECT_EQ(mappings.at("sites")[1].at("lengths"),
              json::parse(R"([{"calls":3,"length":1048576}])"));

    const json& python = arenas.at("python");
    EXPECT_EQ(python.at("detected"), true);
    EXPECT_EQ(python.at("module"), "/usr/bin/python3.11");
    EXPECT_EQ(python.at("arena_size"), kMiB);
    EXPECT_EQ(python.at("arenas_mapped"), 3);
    EXPECT_EQ(python.at("live_bytes"), 2 * kMiB);
    EXPECT_EQ(python.at("live_regions"), 2);
}

TEST(ArenasJson, SmallPythonMappingsAreNotArenas) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0)
        .module_load(T0, 1, 0, kPython, kPython + 0x400000, "", "/usr/bin/python3.11")
        .stack(T0 + 10, 2, {kPython + 0x100})
        .map(T0 + 20, 0x7e0000000000, 16384, 3, 0x22, 2)
        .map(T0 + 21, 0x7e0000100000, 16384, 3, 0x22, 2);
    dump.write(dir / "small.mtd");
    const json arenas = arenas_json(dir / "small.mtd");
    EXPECT_EQ(arenas.at("python").at("detected"), false) << arenas.dump(1);
    EXPECT_EQ(arenas.at("python").at("arena_size"), 0);
    EXPECT_EQ(arenas.at("python").at("live_bytes"), 32768);
    EXPECT_EQ(arenas.at("mappings").at("sites")[0].at("python"), true);
}

TEST(ArenasJson, UnreadableMallocInfoIsReportedNotFatal) {
    CraftedRun run("<malloc><heap nr=\"0\">");
    const json arenas = arenas_json(run.path);
    EXPECT_EQ(arenas.at("arena_count"), 1); // from the first sample, the last one readable
    const json& last = arenas.at("samples")[1];
    EXPECT_TRUE(last.at("arena_count").is_null());
    EXPECT_NE(last.at("malloc_info_error").get<std::string>().find("missing </heap>"),
              std::string::npos);
    const json report = report_json(run.path);
    bool missing = false;
    for (const json& finding : report.at("doctor").at("findings"))
        missing = missing || finding.at("kind") == "malloc_info_missing";
    EXPECT_TRUE(missing) << report.at("doctor").dump(1);
}

TEST(HistogramJson, WholeRunAndAtASnapshot) {
    CraftedRun run;
    const json whole = histogram_json(run.path, "");
    SCOPED_TRACE(whole.dump(1));
    EXPECT_TRUE(whole.at("snapshot").is_null());
    ASSERT_EQ(whole.at("classes").size(), 3u);
    EXPECT_EQ(whole.at("classes")[0].at("max_size"), 32);
    EXPECT_EQ(whole.at("classes")[0].at("live_count"), 0);
    EXPECT_EQ(whole.at("classes")[0].at("free_count"), 1);
    EXPECT_EQ(whole.at("classes")[1].at("max_size"), 104);
    EXPECT_EQ(whole.at("classes")[1].at("usable_bytes"), 104);
    EXPECT_EQ(whole.at("classes")[2].at("min_size"), 4097);
    EXPECT_EQ(whole.at("classes")[2].at("max_size"), 8192);
    EXPECT_EQ(whole.at("classes")[2].at("live_bytes"), 5000);
    EXPECT_EQ(whole.at("totals").at("count"), 3);
    EXPECT_DOUBLE_EQ(whole.at("counts_time_s").get<double>(), 400e-9);
    EXPECT_EQ(histogram_json(run.path, "end"), whole);

    for (const std::string selector : {"1", "warm"}) {
        const json at = histogram_json(run.path, selector);
        EXPECT_EQ(at.at("snapshot").at("number"), 1);
        EXPECT_EQ(at.at("snapshot").at("label"), "warm");
        EXPECT_EQ(at.at("snapshot").at("trigger"), "interval");
        ASSERT_EQ(at.at("classes").size(), 2u) << at.dump(1);
        EXPECT_EQ(at.at("totals").at("count"), 2);
        EXPECT_EQ(at.at("totals").at("live_bytes"), 100);
        EXPECT_DOUBLE_EQ(at.at("counts_time_s").get<double>(), 200e-9);
    }
    EXPECT_EQ(histogram_json(run.path, "2").at("snapshot").at("trigger"), "exit");
    EXPECT_THROW(histogram_json(run.path, "3"), DumpError);
    EXPECT_THROW(histogram_json(run.path, "0"), DumpError);
    EXPECT_THROW(histogram_json(run.path, "cold"), DumpError);
}

TEST(DoctorJson, AccountsForTheExitSample) {
    CraftedRun run;
    const json report = report_json(run.path);
    const json& doctor = report.at("doctor");
    SCOPED_TRACE(doctor.dump(1));
    EXPECT_EQ(doctor.at("available"), true);
    EXPECT_EQ(doctor.at("at_exit"), true);
    EXPECT_EQ(doctor.at("process").at("rss_anon"), 25 * kMiB);
    const json& a = doctor.at("accounting");
    EXPECT_EQ(a.at("live_heap_bytes"), 5100);
    EXPECT_EQ(a.at("live_heap_blocks"), 2);
    EXPECT_EQ(a.at("arena_count"), 2);
    EXPECT_EQ(a.at("arena_system_bytes"), 3 * kMiB);
    EXPECT_EQ(a.at("arena_free_bytes"), 300000);
    EXPECT_EQ(a.at("thread_arena_free_bytes"), 200000);
    EXPECT_EQ(a.at("mmapped_block_bytes"), 135168);
    EXPECT_EQ(a.at("heap_in_use_bytes"), 3 * kMiB - 300000 + 135168);
    EXPECT_EQ(a.at("allocator_overhead_bytes"), 3 * kMiB - 300000 + 135168 - 5100);
    // Live: 100 bytes at 104/100 and 5000 at 5016/5000: 4 + 16 bytes of waste.
    EXPECT_EQ(a.at("internal_waste_bytes"), 20);
    EXPECT_EQ(a.at("anon_mmap_bytes"), 8 * kMiB);
    EXPECT_EQ(a.at("anon_mmap_regions"), 1);
    EXPECT_EQ(a.at("python_arena_bytes"), 2 * kMiB);
    EXPECT_EQ(a.at("unexplained_bytes"), 25 * kMiB - (3 * kMiB + 135168 + 8 * kMiB + 2 * kMiB));

    std::set<std::string> kinds;
    for (const json& finding : doctor.at("findings"))
        kinds.insert(finding.at("kind"));
    EXPECT_EQ(kinds, (std::set<std::string>{"arenas", "mmap", "pymalloc", "unexplained"}));
}

TEST(HistogramJson, SampledDumpsCountEveryAllocationAndEstimateLiveBlocks) {
    TempDir dir;
    DumpBuilder dump;
    dump.header.sample_bytes = 4096;
    dump.header.flags |= f::kFlagSampled;
    std::vector<f::SizeClassCounts> classes(f::kSizeClassCount);
    classes[f::size_class_index(100)] = {50, 5000, 5200, 0, 0}; // 50 made, one recorded
    dump.add_chunk(1, T0)
        .stack(T0, 1, {0x1000})
        .alloc(T0 + 1, 0x10, 100, 1)
        .process_memory(T0 + 2, {kMiB, kMiB, kMiB, kMiB, 0, 1})
        .size_class_totals(T0 + 2, classes);
    dump.write(dir / "sampled.mtd");
    const json h = histogram_json(dir / "sampled.mtd", "");
    EXPECT_EQ(h.at("sampled"), true);
    EXPECT_EQ(h.at("sample_bytes"), 4096);
    ASSERT_EQ(h.at("classes").size(), 1u);
    EXPECT_EQ(h.at("classes")[0].at("count"), 50);
    // One recorded block of 100 bytes stands for 1/p = 1/(1 - exp(-100/4096)) = 41 blocks.
    const auto weight = sample_weight(100, 4096);
    EXPECT_EQ(weight.blocks, 41u);
    EXPECT_EQ(h.at("classes")[0].at("live_count"), weight.blocks);
    EXPECT_EQ(h.at("classes")[0].at("live_bytes"), weight.bytes);

    const json report = report_json(dir / "sampled.mtd");
    EXPECT_EQ(report.at("doctor").at("sampled"), true);
    EXPECT_EQ(report.at("doctor").at("accounting").at("live_heap_blocks"), weight.blocks);
    EXPECT_EQ(report.at("doctor").at("findings")[0].at("kind"), "sampled");
}

TEST(DoctorJson, UnavailableWithoutSamples) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).stack(T0, 1, {0x1000}).alloc(T0 + 1, 0x10, 8, 1);
    dump.write(dir / "old.mtd");
    const json report = report_json(dir / "old.mtd");
    EXPECT_EQ(report.at("doctor").at("available"), false);
    EXPECT_FALSE(report.at("doctor").at("reason").get<std::string>().empty());
    const json arenas = arenas_json(dir / "old.mtd");
    EXPECT_TRUE(arenas.at("arena_count").is_null());
    EXPECT_TRUE(arenas.at("samples").empty());
    const json histogram = histogram_json(dir / "old.mtd", "");
    EXPECT_EQ(histogram.at("has_totals"), false);
    EXPECT_EQ(histogram.at("totals").at("live_count"), 1);
}

} // namespace
} // namespace memtrace::test
