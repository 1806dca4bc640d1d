// `memtrace leaks --json` and `memtrace report --json` on a crafted dump, checked field by
// field against what the test wrote. The only module is a path that does not exist, so every
// frame has just its module and address (symbolizer.h) and nothing depends on debug info.
#include "dump_builder.h"
#include "reports/leak_report.h"
#include "reports/summary_report.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>

namespace memtrace::test {
namespace {

namespace f = memtrace::format;
using nlohmann::json;
constexpr uint64_t T0 = DumpBuilder::kStartNs;

constexpr const char* kModule = "/nonexistent/memtrace-unit-test/libfake.so";
constexpr uint64_t kModuleStart = 0x10000000;
constexpr uint64_t kModuleEnd = 0x10100000;
constexpr uint64_t kOutside = 0x20000000; // no module covers it

struct Site {
    uint32_t stack_id;
    std::vector<uint64_t> frames;
    bool truncated;
    std::vector<uint64_t> sizes; // one allocation each
    bool freed;                  // all freed before the end
};

// The allocation sites of the crafted dump, in no particular order.
const std::vector<Site>& sites() {
    static const std::vector<Site> all = {
        {1, {kModuleStart + 0x100, kModuleStart + 0x200}, false, {100, 200, 300}, false},
        {2, {kModuleStart + 0x300, kOutside}, true, {1000}, false},
        {f::kNoStack, {}, false, {10, 20}, false},
        {3, {kModuleStart + 0x400}, false, {1000, 1000, 1000, 1000, 1000}, true},
    };
    return all;
}

const Site& site(uint32_t stack_id) {
    for (const Site& s : sites()) {
        if (s.stack_id == stack_id) return s;
    }
    throw std::logic_error("no such site");
}

uint64_t sum(const std::vector<uint64_t>& values) {
    uint64_t total = 0;
    for (const uint64_t v : values)
        total += v;
    return total;
}

std::string hex(uint64_t value) {
    std::ostringstream out;
    out << "0x" << std::hex << value;
    return out.str();
}

// Every site's stack, then every allocation one nanosecond apart, then site 3's frees.
DumpBuilder crafted_dump() {
    DumpBuilder dump;
    ChunkBuilder& chunk = dump.add_chunk(1, T0);
    chunk.process_info(T0 + 1, "/opt/app/bin/server",
                       std::string("server\0--port\0"
                                   "8080\0",
                                   19));
    chunk.module_load(T0 + 2, 1, kModuleStart, kModuleStart, kModuleEnd, "\x12\x34", kModule);
    uint64_t time = T0 + 10;
    for (const Site& s : sites()) {
        if (s.stack_id != f::kNoStack) chunk.stack(time++, s.stack_id, s.frames, s.truncated);
    }
    // Allocate everything (site 3's blocks at the same time as the others), then free site 3.
    uint64_t address = 0x100000;
    std::vector<uint64_t> to_free;
    for (const Site& s : sites()) {
        for (const uint64_t size : s.sizes) {
            chunk.alloc(time++, address, size, s.stack_id);
            if (s.freed) to_free.push_back(address);
            address += 0x1000;
        }
    }
    for (const uint64_t freed : to_free)
        chunk.free(time++, freed);
    return dump;
}

json run_leaks(const std::filesystem::path& path, size_t top = 0) {
    std::ostringstream out;
    reports::write_leak_report(path.string(), {.json = true, .top = top}, out);
    return json::parse(out.str());
}

json run_report(const std::filesystem::path& path) {
    std::ostringstream out;
    reports::write_summary_report(path.string(), {.json = true}, out);
    return json::parse(out.str());
}

void expect_frames(const json& frames, const Site& s) {
    ASSERT_EQ(frames.size(), s.frames.size()) << frames.dump(2);
    for (size_t i = 0; i < s.frames.size(); ++i) {
        SCOPED_TRACE("frame " + std::to_string(i));
        const json& frame = frames.at(i);
        const bool in_module = s.frames[i] >= kModuleStart && s.frames[i] < kModuleEnd;
        EXPECT_EQ(frame.at("address"), hex(s.frames[i]));
        EXPECT_EQ(frame.at("module"), in_module ? kModule : "");
        EXPECT_EQ(frame.at("function"), "??");
        EXPECT_EQ(frame.at("file"), "");
        EXPECT_EQ(frame.at("line"), 0);
        EXPECT_EQ(frame.at("inlined"), false);
    }
}

TEST(LeaksJson, EveryFieldMatchesTheCraftedDump) {
    TempDir dir;
    const DumpBuilder dump = crafted_dump();
    dump.write(dir / "crafted.mtd");
    const json leaks = run_leaks(dir / "crafted.mtd");
    SCOPED_TRACE(leaks.dump(2));

    EXPECT_EQ(leaks.at("format_version"), f::kFormatVersion);
    EXPECT_EQ(leaks.at("program"), "server");
    EXPECT_EQ(leaks.at("exe"), "/opt/app/bin/server");
    EXPECT_EQ(leaks.at("pid"), dump.header.pid);
    EXPECT_EQ(leaks.at("complete"), true);
    EXPECT_EQ(leaks.at("end"), json({{"how", "exit"}, {"code", 0}, {"signal", nullptr}}));
    EXPECT_EQ(leaks.at("flags"), json::array());

    // Live sites, largest first: 2 (1000 bytes), 1 (600), then the blocks without a stack.
    const uint32_t expected_order[] = {2, 1, f::kNoStack};
    uint64_t total_bytes = 0;
    uint64_t total_blocks = 0;
    for (const uint32_t id : expected_order) {
        total_bytes += sum(site(id).sizes);
        total_blocks += site(id).sizes.size();
    }
    EXPECT_EQ(leaks.at("total_bytes"), total_bytes);
    EXPECT_EQ(leaks.at("total_blocks"), total_blocks);
    EXPECT_EQ(leaks.at("site_count"), 3);
    const json& listed = leaks.at("sites");
    ASSERT_EQ(listed.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        SCOPED_TRACE("site " + std::to_string(i));
        const Site& s = site(expected_order[i]);
        EXPECT_EQ(listed[i].at("kind"), "live");
        EXPECT_EQ(listed[i].at("stack_id"), s.stack_id);
        EXPECT_EQ(listed[i].at("bytes"), sum(s.sizes));
        EXPECT_EQ(listed[i].at("count"), s.sizes.size());
        EXPECT_EQ(listed[i].at("truncated"), s.truncated);
        expect_frames(listed[i].at("frames"), s);
    }
}

TEST(LeaksJson, TopLimitsTheSitesButNotTheTotals) {
    TempDir dir;
    crafted_dump().write(dir / "crafted.mtd");
    const json leaks = run_leaks(dir / "crafted.mtd", 1);
    ASSERT_EQ(leaks.at("sites").size(), 1u);
    EXPECT_EQ(leaks.at("sites")[0].at("stack_id"), 2);
    EXPECT_EQ(leaks.at("site_count"), 3);
    EXPECT_EQ(leaks.at("total_bytes"), 1000 + 600 + 30);
    EXPECT_EQ(leaks.at("total_blocks"), 1 + 3 + 2);
}

TEST(ReportJson, EveryFieldMatchesTheCraftedDump) {
    TempDir dir;
    const DumpBuilder dump = crafted_dump();
    dump.write(dir / "crafted.mtd");
    const json report = run_report(dir / "crafted.mtd");
    SCOPED_TRACE(report.dump(2));

    EXPECT_EQ(report.at("format_version"), f::kFormatVersion);
    EXPECT_EQ(report.at("pid"), dump.header.pid);
    EXPECT_EQ(report.at("ppid"), dump.header.ppid);
    EXPECT_EQ(report.at("program"), "server");
    EXPECT_EQ(report.at("argv"), json({"server", "--port", "8080"}));
    EXPECT_EQ(report.at("complete"), true);
    EXPECT_EQ(report.at("end"), json({{"how", "exit"}, {"code", 0}, {"signal", nullptr}}));
    EXPECT_DOUBLE_EQ(report.at("duration_s").get<double>(),
                     static_cast<double>(DumpBuilder::kEndNs - DumpBuilder::kStartNs) / 1e9);
    EXPECT_EQ(report.at("threads"), 1);

    uint64_t allocations = 0;
    uint64_t bytes = 0;
    uint64_t frees = 0;
    for (const Site& s : sites()) {
        allocations += s.sizes.size();
        bytes += sum(s.sizes);
        if (s.freed) frees += s.sizes.size();
    }
    EXPECT_EQ(report.at("totals"),
              json({{"allocations", allocations}, {"frees", frees}, {"bytes_allocated", bytes}}));
    EXPECT_EQ(report.at("anomalies"), json({{"unknown_frees", 0}, {"replaced_blocks", 0}}));
    // Everything was live at once, just before site 3's frees; the last alloc made the peak.
    EXPECT_EQ(report.at("peak").at("bytes"), bytes);
    EXPECT_EQ(report.at("peak").at("blocks"), allocations);
    const uint64_t stacks = 3;
    const uint64_t last_alloc_ns = 10 + stacks + allocations - 1;
    EXPECT_DOUBLE_EQ(report.at("peak").at("time_s").get<double>(),
                     static_cast<double>(last_alloc_ns) / 1e9);
    EXPECT_EQ(report.at("leaked"), json({{"bytes", bytes - sum(site(3).sizes)},
                                         {"blocks", allocations - site(3).sizes.size()}}));

    const uint32_t by_bytes[] = {3, 2, 1, f::kNoStack};
    const uint32_t by_count[] = {3, 1, f::kNoStack, 2};
    const auto expect_sites = [](const json& listed, const uint32_t(&order)[4]) {
        ASSERT_EQ(listed.size(), 4u);
        for (size_t i = 0; i < 4; ++i) {
            SCOPED_TRACE("site " + std::to_string(i));
            const Site& s = site(order[i]);
            EXPECT_EQ(listed[i].at("kind"), "allocated");
            EXPECT_EQ(listed[i].at("stack_id"), s.stack_id);
            EXPECT_EQ(listed[i].at("bytes"), sum(s.sizes));
            EXPECT_EQ(listed[i].at("count"), s.sizes.size());
            EXPECT_EQ(listed[i].at("live_bytes"), s.freed ? 0 : sum(s.sizes));
            EXPECT_EQ(listed[i].at("live_count"), s.freed ? 0 : s.sizes.size());
            EXPECT_EQ(listed[i].at("truncated"), s.truncated);
            expect_frames(listed[i].at("frames"), s);
        }
    };
    expect_sites(report.at("top_by_bytes"), by_bytes);
    expect_sites(report.at("top_by_count"), by_count);
}

TEST(ReportJson, EndReasonsMapToHow) {
    TempDir dir;
    struct Case {
        f::EndReason reason;
        uint32_t clean;
        int exit_code;
        int signal;
        json end;
        bool complete;
    };
    const Case cases[] = {
        {f::EndReason::Exit, 1, 3, 0, {{"how", "exit"}, {"code", 3}, {"signal", nullptr}}, true},
        {f::EndReason::QuickExit,
         1,
         7,
         0,
         {{"how", "exit"}, {"code", 7}, {"signal", nullptr}},
         true},
        {f::EndReason::Signal,
         0,
         0,
         11,
         {{"how", "signal"}, {"code", nullptr}, {"signal", 11}},
         false},
        {f::EndReason::Killed,
         0,
         0,
         9,
         {{"how", "killed"}, {"code", nullptr}, {"signal", 9}},
         false},
        {f::EndReason::Exec,
         1,
         0,
         0,
         {{"how", "exec"}, {"code", nullptr}, {"signal", nullptr}},
         true},
        {f::EndReason::Unknown,
         0,
         0,
         0,
         {{"how", "unknown"}, {"code", nullptr}, {"signal", nullptr}},
         false},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.end.dump());
        DumpBuilder dump = crafted_dump();
        dump.header.end_reason = static_cast<uint32_t>(c.reason);
        dump.header.clean = c.clean;
        dump.header.exit_code = c.exit_code;
        dump.header.signal = c.signal;
        dump.write(dir / "end.mtd");
        const json report = run_report(dir / "end.mtd");
        EXPECT_EQ(report.at("end"), c.end);
        EXPECT_EQ(report.at("complete"), c.complete);
        const json leaks = run_leaks(dir / "end.mtd");
        EXPECT_EQ(leaks.at("end"), c.end);
        EXPECT_EQ(leaks.at("complete"), c.complete);
    }
}

TEST(ReportJson, NonUtf8PathsStillGiveValidJson) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).process_info(T0, "/tmp/\xff\xfe-prog", std::string("\xc3\0", 2));
    dump.write(dir / "bytes.mtd");
    const json report = run_report(dir / "bytes.mtd");
    EXPECT_EQ(report.at("argv").size(), 1u);
    EXPECT_NE(report.at("program").get<std::string>().find("-prog"), std::string::npos);
}

TEST(LeaksText, SaysWhenTheDumpIsIncomplete) {
    TempDir dir;
    DumpBuilder dump = crafted_dump();
    dump.write(dir / "clean.mtd");
    std::ostringstream clean;
    reports::write_leak_report((dir / "clean.mtd").string(), {}, clean);
    EXPECT_NE(clean.str().find("Leaks of server (pid 4242), which exited with code 0."),
              std::string::npos)
        << clean.str();
    EXPECT_EQ(clean.str().find("did not end cleanly"), std::string::npos) << clean.str();
    EXPECT_NE(clean.str().find("Total: 1630 bytes"), std::string::npos) << clean.str();

    dump.header.end_reason = static_cast<uint32_t>(f::EndReason::Killed);
    dump.header.signal = 9;
    dump.header.clean = 0;
    dump.write(dir / "killed.mtd");
    std::ostringstream killed;
    reports::write_leak_report((dir / "killed.mtd").string(), {}, killed);
    EXPECT_NE(killed.str().find("was killed by signal 9 (SIGKILL)"), std::string::npos)
        << killed.str();
    EXPECT_NE(killed.str().find("did not end cleanly"), std::string::npos) << killed.str();
}

} // namespace
} // namespace memtrace::test
