// `memtrace run` compacts the dump once the program has ended (docs/format.md, compacted form);
// the analyzer must read it with exactly the results of the raw dump.
#include "integration_test.h"

#include <cstring>
#include <fstream>
#include <string>

namespace memtrace::integration {
namespace {

using nlohmann::json;

bool starts_with_magic(const std::filesystem::path& path, const char (&magic)[9]) {
    std::ifstream in(path, std::ios::binary);
    char bytes[8] = {};
    in.read(bytes, sizeof(bytes));
    return in.gcount() == 8 && std::memcmp(bytes, magic, 8) == 0;
}

// The JSON of both analyzer commands, without the dump's path.
json analyses(const std::filesystem::path& dump) {
    json leaks = leaks_json(dump).json;
    json report = report_json(dump).json;
    leaks.erase("dump");
    report.erase("dump");
    return {{"leaks", leaks}, {"report", report}};
}

class Compaction : public IntegrationTest {};

TEST_F(Compaction, RunCompactsTheDumpByDefault) {
    ProcessResult run = trace("leak_direct");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    const auto dump = dump_of("leak_direct");
    EXPECT_TRUE(starts_with_magic(dump, "MTZDUMP\0")) << "the dump was not compacted";
    EXPECT_EQ(dumps_in_dir(), std::vector<std::filesystem::path>{dump})
        << "compaction must leave no other file";
    // The blocks stay in a global array: the exit scan finds them reachable.
    EXPECT_NE(run.err.find("no leaks (and 4396 bytes still reachable)"), std::string::npos)
        << run.err;
    json leaks = leaks_json(dump).json;
    expect_totals(leaks, 3 * 100 + 4096, 4);
    expect_site(leaks, {"leak_page", 4096, 1, "leak_direct.c", "leak_page", "leak_direct", "main"});
}

TEST_F(Compaction, CompactedAndRawDumpsGiveTheSameAnalyses) {
    // One run, kept raw; its compacted copy must analyze exactly like it.
    const auto raw = dir() / "raw.mtd";
    ProcessSpec spec = memtrace_run_spec(dir(), {"--no-compact", "-o", raw.string()},
                                         {program("threads_leak").string()});
    ProcessResult run = run_process(spec);
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    ASSERT_TRUE(starts_with_magic(raw, "MTDUMP\0\0")) << "--no-compact must keep the raw dump";

    const auto compacted = dir() / "compacted.mtd";
    ProcessSpec compact;
    compact.argv = {
        memtrace_exe().string(), "compact", "-q", "--time-resolution", "1", raw.string(), "-o",
        compacted.string()};
    compact.cwd = dir();
    ProcessResult compacting = run_process(compact);
    ASSERT_EQ(compacting.exit_code(), 0) << compacting.describe();
    EXPECT_EQ(compacting.err, "");
    ASSERT_TRUE(starts_with_magic(compacted, "MTZDUMP\0"));
    EXPECT_LT(std::filesystem::file_size(compacted), std::filesystem::file_size(raw) / 4);

    const json from_raw = analyses(raw);
    ASSERT_GT(from_raw.at("leaks").at("total_blocks").get<uint64_t>(), 0u);
    EXPECT_EQ(analyses(compacted), from_raw);

    // Compacting in place (default resolution of event times, 100 us) replaces the raw dump;
    // only the time of the peak may move, by less than the resolution. A second time changes
    // nothing.
    compact.argv = {memtrace_exe().string(), "compact", raw.string()};
    compacting = run_process(compact);
    ASSERT_EQ(compacting.exit_code(), 0) << compacting.describe();
    EXPECT_NE(compacting.err.find("bytes per event"), std::string::npos) << compacting.err;
    EXPECT_TRUE(starts_with_magic(raw, "MTZDUMP\0"));
    json coarse = analyses(raw);
    json exact = from_raw;
    const double peak_exact = exact["report"]["peak"]["time_s"].get<double>();
    const double peak_coarse = coarse["report"]["peak"]["time_s"].get<double>();
    EXPECT_LE(peak_coarse, peak_exact);
    EXPECT_GT(peak_coarse, peak_exact - 100e-6);
    exact["report"]["peak"].erase("time_s");
    coarse["report"]["peak"].erase("time_s");
    EXPECT_EQ(coarse, exact);
    compacting = run_process(compact);
    ASSERT_EQ(compacting.exit_code(), 0) << compacting.describe();
    EXPECT_NE(compacting.err.find("already compacted"), std::string::npos) << compacting.err;
}

// Site mode (compacted dump version 3, the default) keeps neither which block each free released
// nor the addresses of blocks that did not survive; nothing the analyzer prints may change, and
// no synthetic address may show. Each program is traced once, kept raw, and compacted in both
// versions with exact times; every command's JSON must match the raw dump's.
struct SiteModeCase {
    const char* program;
    std::vector<std::string> args;
    // Analyzer commands besides leaks, report and histogram; "DUMP" stands for the dump.
    std::vector<std::vector<std::string>> commands;
};

class SiteMode : public IntegrationTest, public ::testing::WithParamInterface<SiteModeCase> {
protected:
    json analyze(const std::vector<std::string>& command, const std::filesystem::path& dump) {
        std::vector<std::string> args;
        for (const std::string& arg : command) {
            std::string replaced = arg;
            if (const size_t at = replaced.find("DUMP"); at != std::string::npos) {
                replaced.replace(at, 4, dump.string());
            }
            args.push_back(replaced);
        }
        args.push_back("--json");
        const ProcessResult result = run_memtrace(args, dir());
        if (!result.exited() || result.exit_code() != 0) {
            ADD_FAILURE() << "memtrace " << command.front() << " failed: " << result.describe();
            return json::object();
        }
        json out = json::parse(result.out);
        out.erase("dump");
        for (const char* side : {"a", "b"}) { // diff's two moments name their dumps
            if (out.contains(side) && out[side].is_object()) {
                out[side].erase("argument");
                out[side].erase("dump");
            }
        }
        return out;
    }
};

TEST_P(SiteMode, AnalysesMatchTheRawDump) {
    const SiteModeCase& c = GetParam();
    const auto raw = dir() / "raw.mtd";
    std::vector<std::string> argv = {program(c.program).string()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    ProcessSpec spec = memtrace_run_spec(dir(), {"--no-compact", "-o", raw.string()}, argv);
    spec.env_overrides["MEMTRACE_INTERVAL"] = "0";
    spec.timeout = std::chrono::seconds(120);
    const ProcessResult run = run_process(spec);
    ASSERT_EQ(run.exit_code(), 0) << run.describe();

    std::vector<std::vector<std::string>> commands = {
        {"leaks", "DUMP"}, {"report", "DUMP"}, {"histogram", "DUMP"}};
    commands.insert(commands.end(), c.commands.begin(), c.commands.end());
    for (const char* version : {"3", "2"}) {
        SCOPED_TRACE(std::string("version ") + version);
        const auto compacted = dir() / (std::string("v") + version + ".mtd");
        ProcessSpec compact;
        compact.argv = {
            memtrace_exe().string(), "compact", "-q", "--time-resolution", "1", raw.string(), "-o",
            compacted.string()};
        compact.cwd = dir();
        compact.env_overrides["MEMTRACE_COMPACT_VERSION"] = version;
        const ProcessResult compacting = run_process(compact);
        ASSERT_EQ(compacting.exit_code(), 0) << compacting.describe();
        std::ifstream in(compacted, std::ios::binary);
        char header[12] = {};
        in.read(header, sizeof(header));
        EXPECT_EQ(static_cast<int>(header[8]), version[0] - '0');
        for (const std::vector<std::string>& command : commands) {
            SCOPED_TRACE(command.front());
            EXPECT_EQ(analyze(command, compacted), analyze(command, raw));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Compaction, SiteMode,
    ::testing::Values(SiteModeCase{"realloc_chain", {}, {}},
                      SiteModeCase{"leakscan_struct", {}, {}}, SiteModeCase{"threads_leak", {}, {}},
                      SiteModeCase{"many_threads", {}, {}},
                      SiteModeCase{"snapshot_api", {}, {{"diff", "DUMP@first", "DUMP@second"}}},
                      SiteModeCase{"growth_service",
                                   {"3000"},
                                   {{"growth", "DUMP", "--series"},
                                    {"diff", "DUMP@after-1000", "DUMP@after-3000"}}}),
    [](const ::testing::TestParamInfo<SiteModeCase>& info) {
        return std::string(info.param.program);
    });

} // namespace
} // namespace memtrace::integration
