// The CI gate: `memtrace check` and `memtrace run --check` rules with their exit codes,
// suppressions, and the JSON, JUnit, SARIF and GitHub reports read back field by field.
#include "integration_test.h"

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace memtrace::integration {
namespace {

using nlohmann::json;

constexpr int kGateFailed = 23;

std::filesystem::path find_in_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const std::filesystem::path candidate = std::filesystem::path(dir) / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::filesystem::path programs_source_dir() {
    const char* dir = std::getenv("PROGRAMS_SOURCE_DIR");
    return dir != nullptr ? std::filesystem::path(dir) : std::filesystem::path();
}

class CiGate : public IntegrationTest {
protected:
    // `memtrace ARGS...` in dir().
    ProcessResult memtrace(const std::vector<std::string>& args) {
        return run_memtrace(args, dir());
    }

    // `memtrace check DUMP ARGS... --json`, its exit code checked.
    json check_json(const std::filesystem::path& dump, std::vector<std::string> args,
                    int expected_exit) {
        args.insert(args.begin(), {"check", dump.string()});
        args.push_back("--json");
        ProcessResult result = memtrace(args);
        EXPECT_TRUE(result.exited()) << result.describe();
        EXPECT_EQ(result.exit_code(), expected_exit) << result.out << result.describe();
        try {
            return json::parse(result.out);
        } catch (const json::exception& e) {
            ADD_FAILURE() << "invalid JSON: " << e.what() << "\n" << result.out;
            return json::object();
        }
    }

    // Traces gate_target with these arguments into dir()/NAME.mtd.
    std::filesystem::path trace_target(const std::string& name,
                                       const std::vector<std::string>& args) {
        std::vector<std::string> argv = {program("gate_target").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        const std::filesystem::path dump = dir() / (name + ".mtd");
        ProcessResult run =
            run_process(memtrace_run_spec(dir(), {"-q", "-o", dump.string()}, argv));
        EXPECT_TRUE(run.exited()) << run.describe();
        EXPECT_EQ(run.exit_code(), 0) << run.describe();
        return dump;
    }

    std::filesystem::path write(const std::string& name, const std::string& text) {
        const std::filesystem::path path = dir() / name;
        std::ofstream(path) << text;
        return path;
    }
};

const json& rule_named(const json& verdict, const std::string& id) {
    for (const json& rule : verdict.at("rules"))
        if (rule.at("id") == id) return rule;
    throw std::runtime_error("no rule " + id + " in " + verdict.dump());
}

TEST_F(CiGate, RunCheckFailsOnLostBlocksWithTheGateCode) {
    ProcessResult run =
        run_process(memtrace_run_spec(dir(), {"-o", (dir() / "lost.mtd").string(), "--check"},
                                      {program("gate_target").string(), "leak", "3", "100"}));
    ASSERT_TRUE(run.exited()) << run.describe();
    EXPECT_EQ(run.exit_code(), kGateFailed) << run.describe();
    EXPECT_NE(run.err.find("memtrace check: FAILED"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("FAIL  leaked-blocks: 3 leaked blocks > 0 allowed"), std::string::npos)
        << run.err;
    EXPECT_NE(run.err.find("lose_block"), std::string::npos) << run.err;

    const std::filesystem::path dump = dir() / "lost.mtd";
    json verdict = check_json(dump, {}, kGateFailed);
    EXPECT_FALSE(verdict.at("passed").get<bool>());
    EXPECT_EQ(verdict.at("counted").at("bytes").get<uint64_t>(), 300u);
    EXPECT_EQ(verdict.at("counted").at("blocks").get<uint64_t>(), 3u);
    EXPECT_EQ(verdict.at("counted").at("sites").get<uint64_t>(), 1u);
    ASSERT_EQ(verdict.at("rules").size(), 1u);
    EXPECT_EQ(rule_named(verdict, "leaked-blocks").at("measured").get<int64_t>(), 3);
    EXPECT_EQ(rule_named(verdict, "leaked-blocks").at("limit").get<uint64_t>(), 0u);
    // The blocks were lost: definite once the process scans itself, live before that.
    const std::string kind = verdict.at("sites").at(0).at("kind").get<std::string>();
    EXPECT_EQ(kind, verdict.at("scanned").get<bool>() ? "definite" : "live");

    // Each leak rule in turn: passing at the exact amount, failing one below it.
    check_json(dump, {"--max-leaked-blocks", "3"}, 0);
    check_json(dump, {"--max-leaked-blocks", "2"}, kGateFailed);
    check_json(dump, {"--max-leaked-bytes", "300"}, 0);
    json bytes = check_json(dump, {"--max-leaked-bytes", "299"}, kGateFailed);
    EXPECT_EQ(rule_named(bytes, "leaked-bytes").at("measured").get<int64_t>(), 300);
    check_json(dump, {"--max-leaked-bytes", "1k", "--max-leaked-blocks", "3"}, 0);
    // The exit code can be changed.
    check_json(dump, {"--exit-code", "42"}, 42);
}

TEST_F(CiGate, NoLeakPasses) {
    const auto dump = trace_target("clean", {"peak", "1000"});
    json verdict = check_json(dump, {}, 0);
    EXPECT_TRUE(verdict.at("passed").get<bool>());
    EXPECT_EQ(verdict.at("counted").at("blocks").get<uint64_t>(), 0u);
}

TEST_F(CiGate, PeakRule) {
    const auto dump = trace_target("peak", {"peak", "2097152"});
    json failed = check_json(dump, {"--max-peak", "2097151"}, kGateFailed);
    EXPECT_EQ(rule_named(failed, "peak").at("measured").get<int64_t>(), 2097152);
    EXPECT_EQ(failed.at("peak_bytes").get<uint64_t>(), 2097152u);
    check_json(dump, {"--max-peak", "2MiB"}, 0);
    // Through run --check as well.
    ProcessResult run = run_process(memtrace_run_spec(
        dir(), {"-o", (dir() / "peak2.mtd").string(), "--check", "--max-peak", "1M"},
        {program("gate_target").string(), "peak", "2097152"}));
    EXPECT_EQ(run.exit_code(), kGateFailed) << run.describe();
    EXPECT_NE(run.err.find("FAIL  peak"), std::string::npos) << run.err;
}

TEST_F(CiGate, GrowthRuleAgainstBaseline) {
    const auto baseline = trace_target("baseline", {"peak", "1048576"});
    const auto candidate = trace_target("candidate", {"peak", "2097152"});
    json failed = check_json(candidate, {"--baseline", baseline.string(), "--max-growth", "512k"},
                             kGateFailed);
    const json& growth = rule_named(failed, "growth");
    EXPECT_EQ(growth.at("measured").get<int64_t>(), 1048576);
    EXPECT_EQ(growth.at("limit").get<uint64_t>(), 524288u);
    EXPECT_EQ(failed.at("baseline").at("peak_bytes").get<uint64_t>(), 1048576u);
    check_json(candidate, {"--baseline", baseline.string(), "--max-growth", "1M"}, 0);
    check_json(candidate, {"--baseline", baseline.string(), "--max-growth", "100%"}, 0);
    check_json(candidate, {"--baseline", baseline.string(), "--max-growth", "99%"}, kGateFailed);
    // Shrinking is not growth.
    json shrink = check_json(baseline, {"--baseline", candidate.string(), "--max-growth", "0"}, 0);
    EXPECT_EQ(rule_named(shrink, "growth").at("measured").get<int64_t>(), -1048576);
    // --max-growth without --baseline is a usage error.
    EXPECT_EQ(memtrace({"check", candidate.string(), "--max-growth", "1M"}).exit_code(), 2);
}

TEST_F(CiGate, FailingProgramKeepsItsStatusAndStillGetsAVerdict) {
    ProcessResult run = run_process(
        memtrace_run_spec(dir(), {"-o", (dir() / "failing.mtd").string(), "--check"},
                          {program("gate_target").string(), "leak", "1", "10", "exit", "3"}));
    ASSERT_TRUE(run.exited()) << run.describe();
    EXPECT_EQ(run.exit_code(), 3) << run.describe();
    EXPECT_NE(run.err.find("memtrace check: FAILED"), std::string::npos) << run.err;
}

TEST_F(CiGate, CrashingProgramDiesTheSameWayAfterTheVerdict) {
    ProcessResult run = run_process(memtrace_run_spec(
        dir(), {"-o", (dir() / "segv.mtd").string(), "--check"}, {program("segv").string()}));
    ASSERT_TRUE(run.signaled()) << run.describe();
    EXPECT_EQ(run.term_signal(), SIGSEGV);
    EXPECT_NE(run.err.find("memtrace check: "), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("did not end cleanly"), std::string::npos) << run.err;
}

TEST_F(CiGate, ReachableBlocksCountOnlyWhenAsked) {
    const auto dump = trace_target("kept", {"keep", "500"});
    json verdict = check_json(dump, {"--include-reachable"}, kGateFailed);
    EXPECT_EQ(verdict.at("counted").at("bytes").get<uint64_t>(), 500u);
    if (verdict.at("scanned").get<bool>()) {
        // The global pointer keeps the block reachable: not a leak by default.
        EXPECT_EQ(verdict.at("sites").at(0).at("kind"), "reachable");
        json plain = check_json(dump, {}, 0);
        EXPECT_EQ(plain.at("reachable").at("bytes").get<uint64_t>(), 500u);
        EXPECT_EQ(plain.at("counted").at("bytes").get<uint64_t>(), 0u);
    } else {
        // Without a scan nothing tells reachable from lost: the block counts.
        check_json(dump, {}, kGateFailed);
    }
}

TEST_F(CiGate, SuppressionByFunctionFileAndLsanLine) {
    const auto dump = trace_target("suppressed", {"leak", "3", "100"});
    const auto by_function =
        write("function.supp", "# test rules\n\nfunction:lose_*   # the test's own leak\n");
    json verdict = check_json(dump, {"--suppressions", by_function.string()}, 0);
    EXPECT_EQ(verdict.at("counted").at("blocks").get<uint64_t>(), 0u);
    EXPECT_EQ(verdict.at("suppressed").at("blocks").get<uint64_t>(), 3u);
    EXPECT_EQ(verdict.at("suppressed").at("bytes").get<uint64_t>(), 300u);
    const json& site = verdict.at("sites").at(0);
    EXPECT_FALSE(site.at("counted").get<bool>());
    EXPECT_EQ(site.at("suppressed").at("rule"), "function:lose_*");
    EXPECT_EQ(site.at("suppressed").at("reason"), "the test's own leak");
    EXPECT_EQ(site.at("suppressed").at("origin"), by_function.string() + ":3");

    // Suppressed leaks are listed in the text, never dropped silently.
    ProcessResult text = memtrace({"check", dump.string(), "--suppressions", by_function.string()});
    EXPECT_EQ(text.exit_code(), 0) << text.describe();
    EXPECT_NE(text.out.find("Suppressed: 300 bytes in 3 blocks from 1 site"), std::string::npos)
        << text.out;
    EXPECT_NE(
        text.out.find("by function:lose_* (" + by_function.string() + ":3: the test's own leak)"),
        std::string::npos)
        << text.out;

    check_json(dump, {"--suppressions", write("file.supp", "file:gate_target.c\n").string()}, 0);
    check_json(dump, {"--suppressions", write("lsan.supp", "leak:ose_bl\n").string()}, 0);
    check_json(dump, {"--suppressions", write("other.supp", "function:lose\n").string()},
               kGateFailed);
    // A bad rule names its file and line.
    ProcessResult bad = memtrace({"check", dump.string(), "--suppressions",
                                  write("bad.supp", "# ok\nfunktion:x\n").string()});
    EXPECT_EQ(bad.exit_code(), 1);
    EXPECT_NE(bad.err.find("bad.supp:2"), std::string::npos) << bad.err;
}

TEST_F(CiGate, SuppressionByLibrary) {
    ProcessResult run = trace("dlopen_leak", {plugin_library().string()});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    const auto dump = dump_of("dlopen_leak");
    json unsuppressed = check_json(dump, {}, kGateFailed);
    EXPECT_EQ(unsuppressed.at("counted").at("bytes").get<uint64_t>(), 2u * 777u)
        << "the loader's own tables are in the default suppressions";
    const auto rules = write("plugin.supp", "module:libmtplugin.so  # the plugin under test\n");
    json verdict = check_json(dump, {"--suppressions", rules.string()}, 0);
    EXPECT_EQ(verdict.at("counted").at("bytes").get<uint64_t>(), 0u);
    bool plugin_suppressed = false;
    for (const json& site : verdict.at("sites")) {
        if (!site.at("suppressed").is_null() &&
            site.at("suppressed").at("rule") == "module:libmtplugin.so") {
            plugin_suppressed = true;
            EXPECT_EQ(site.at("bytes").get<uint64_t>(), 2u * 777u);
        }
    }
    EXPECT_TRUE(plugin_suppressed) << verdict.dump(1);
    // Without the default set: the loader's tables are still reachable when a scan ran (they
    // do not count), and count as live blocks when none did.
    const bool scanned = verdict.at("scanned").get<bool>();
    json raw = check_json(dump, {"--suppressions", rules.string(), "--no-default-suppressions"},
                          scanned ? 0 : kGateFailed);
    if (scanned) {
        EXPECT_EQ(raw.at("counted").at("bytes").get<uint64_t>(), 0u);
        EXPECT_GT(raw.at("reachable").at("bytes").get<uint64_t>(), 0u);
    } else {
        EXPECT_GT(raw.at("counted").at("bytes").get<uint64_t>(), 0u);
    }
}

TEST_F(CiGate, SarifReportFieldByField) {
    const auto dump = trace_target("sarif", {"leak", "3", "100"});
    const auto sarif_path = dir() / "out.sarif";
    const std::string root = programs_source_dir().lexically_normal().string();
    ProcessResult result =
        memtrace({"check", dump.string(), "--sarif", sarif_path.string(), "--source-root", root});
    EXPECT_EQ(result.exit_code(), kGateFailed) << result.describe();
    json sarif = json::parse(read_file(sarif_path));
    EXPECT_EQ(sarif.at("version"), "2.1.0");
    EXPECT_EQ(sarif.at("$schema"), "https://json.schemastore.org/sarif-2.1.0.json");
    ASSERT_EQ(sarif.at("runs").size(), 1u);
    const json& run = sarif.at("runs").at(0);
    EXPECT_EQ(run.at("tool").at("driver").at("name"), "memtrace");
    const json& rules = run.at("tool").at("driver").at("rules");
    ASSERT_EQ(rules.size(), 4u);
    EXPECT_EQ(rules.at(0).at("id"), "memtrace/leak/definite");
    EXPECT_EQ(rules.at(1).at("id"), "memtrace/leak/indirect");
    EXPECT_EQ(rules.at(2).at("id"), "memtrace/leak/reachable");
    EXPECT_EQ(rules.at(3).at("id"), "memtrace/leak/live");
    EXPECT_EQ(run.at("originalUriBaseIds").at("SRCROOT").at("uri"), "file://" + root + "/");

    ASSERT_EQ(run.at("results").size(), 1u) << run.dump(1);
    const json& leak = run.at("results").at(0);
    const size_t rule_index = leak.at("ruleIndex").get<size_t>();
    EXPECT_EQ(leak.at("ruleId"), rules.at(rule_index).at("id"));
    EXPECT_TRUE(leak.at("ruleId") == "memtrace/leak/definite" ||
                leak.at("ruleId") == "memtrace/leak/live")
        << leak.at("ruleId");
    EXPECT_EQ(leak.at("level"), "error");
    EXPECT_EQ(leak.at("properties").at("bytes").get<uint64_t>(), 300u);
    EXPECT_EQ(leak.at("properties").at("blocks").get<uint64_t>(), 3u);
    EXPECT_NE(leak.at("message").at("text").get<std::string>().find("300 bytes in 3 blocks"),
              std::string::npos);
    const json& location = leak.at("locations").at(0);
    const json& physical = location.at("physicalLocation");
    EXPECT_EQ(physical.at("artifactLocation").at("uri"), "gate_target.c");
    EXPECT_EQ(physical.at("artifactLocation").at("uriBaseId"), "SRCROOT");
    EXPECT_EQ(physical.at("region").at("startLine").get<unsigned>(),
              site_line("gate_target.c", "lose_block"));
    EXPECT_EQ(location.at("logicalLocations").at(0).at("fullyQualifiedName"), "lose_block");
    const json& frames = leak.at("stacks").at(0).at("frames");
    ASSERT_GE(frames.size(), 2u);
    EXPECT_EQ(frames.at(1).at("location").at("logicalLocations").at(0).at("fullyQualifiedName"),
              "main");
    EXPECT_EQ(leak.at("partialFingerprints").at("memtraceStack/v1").get<std::string>().size(), 16u);
    EXPECT_FALSE(leak.contains("suppressions"));

    // A suppressed site is still a result, with a SARIF suppression saying why.
    const auto rules_file = write("s.supp", "function:lose_block  # known\n");
    ProcessResult suppressed = memtrace({"check", dump.string(), "--sarif", sarif_path.string(),
                                         "--suppressions", rules_file.string()});
    EXPECT_EQ(suppressed.exit_code(), 0) << suppressed.describe();
    json second = json::parse(read_file(sarif_path));
    const json& quiet = second.at("runs").at(0).at("results").at(0);
    EXPECT_EQ(quiet.at("level"), "note");
    EXPECT_EQ(quiet.at("suppressions").at(0).at("kind"), "external");
    EXPECT_EQ(quiet.at("suppressions").at(0).at("justification"),
              "function:lose_block (" + rules_file.string() + ":1: known)");
}

// Parses the JUnit file with python3's xml.etree and returns its structure as JSON.
json parse_junit(const std::filesystem::path& file) {
    static const char* kScript = R"(
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
def case(c):
    f = c.find("failure")
    return {"attrib": c.attrib,
            "failure": None if f is None else {"attrib": f.attrib, "text": f.text or ""}}
print(json.dumps({"tag": root.tag, "attrib": root.attrib, "suites": [
    {"attrib": s.attrib,
     "properties": {p.get("name"): p.get("value") for p in s.iter("property")},
     "cases": [case(c) for c in s.findall("testcase")]} for s in root.findall("testsuite")]}))
)";
    ProcessSpec spec;
    spec.argv = {find_in_path("python3").string(), "-c", kScript, file.string()};
    ProcessResult result = run_process(spec);
    if (result.exit_code() != 0) throw std::runtime_error("python3 failed: " + result.describe());
    return json::parse(result.out);
}

TEST_F(CiGate, JunitReportOneCasePerRule) {
    if (find_in_path("python3").empty()) GTEST_SKIP() << "python3 is needed to parse the XML";
    const auto dump = trace_target("junit", {"leak", "3", "100", "peak", "4096"});
    const auto junit = dir() / "report.xml";
    ProcessResult result = memtrace({"check", dump.string(), "--junit", junit.string(),
                                     "--max-leaked-bytes", "100", "--max-peak", "1G"});
    EXPECT_EQ(result.exit_code(), kGateFailed) << result.describe();
    json xml = parse_junit(junit);
    EXPECT_EQ(xml.at("tag"), "testsuites");
    EXPECT_EQ(xml.at("attrib").at("tests"), "2");
    EXPECT_EQ(xml.at("attrib").at("failures"), "1");
    ASSERT_EQ(xml.at("suites").size(), 1u);
    const json& suite = xml.at("suites").at(0);
    EXPECT_EQ(suite.at("attrib").at("name"), "memtrace check gate_target");
    EXPECT_EQ(suite.at("attrib").at("tests"), "2");
    EXPECT_EQ(suite.at("attrib").at("failures"), "1");
    EXPECT_EQ(suite.at("properties").at("dump"), dump.string());
    ASSERT_EQ(suite.at("cases").size(), 2u);
    const json& leaked = suite.at("cases").at(0);
    EXPECT_EQ(leaked.at("attrib").at("name"), "leaked-bytes");
    EXPECT_EQ(leaked.at("attrib").at("classname"), "memtrace.gate_target");
    ASSERT_FALSE(leaked.at("failure").is_null());
    EXPECT_EQ(leaked.at("failure").at("attrib").at("type"), "memtrace.leaked-bytes");
    EXPECT_EQ(leaked.at("failure").at("attrib").at("message").get<std::string>().rfind(
                  "300 leaked bytes > 100 allowed", 0),
              0u);
    const std::string stacks = leaked.at("failure").at("text").get<std::string>();
    EXPECT_NE(stacks.find("300 bytes in 3 blocks"), std::string::npos) << stacks;
    EXPECT_NE(stacks.find("#0 lose_block ("), std::string::npos) << stacks;
    EXPECT_NE(
        stacks.find("gate_target.c:" + std::to_string(site_line("gate_target.c", "lose_block"))),
        std::string::npos)
        << stacks;
    const json& peak = suite.at("cases").at(1);
    EXPECT_EQ(peak.at("attrib").at("name"), "peak");
    EXPECT_TRUE(peak.at("failure").is_null());
}

TEST_F(CiGate, GithubAnnotationsPointAtTheUsersLine) {
    const auto dump = trace_target("github", {"leak", "2", "64"});
    const std::string root = programs_source_dir().lexically_normal().string();
    ProcessResult result =
        memtrace({"check", dump.string(), "--github", "--source-root", root, "--top", "1"});
    EXPECT_EQ(result.exit_code(), kGateFailed) << result.describe();
    const std::string expected_start = "::error file=gate_target.c,line=" +
                                       std::to_string(site_line("gate_target.c", "lose_block")) +
                                       ",title=memtrace%3A ";
    const size_t at = result.out.find(expected_start);
    ASSERT_NE(at, std::string::npos) << result.out;
    const std::string line = result.out.substr(at, result.out.find('\n', at) - at);
    EXPECT_NE(line.find(" leak::128 bytes in 2 blocks "), std::string::npos) << line;
    EXPECT_NE(line.find("%0A#0 lose_block ("), std::string::npos) << line;
    // --json and --github both write stdout: refused.
    EXPECT_EQ(memtrace({"check", dump.string(), "--github", "--json"}).exit_code(), 2);
}

TEST_F(CiGate, TrueAndPythonPassTheDefaultGate) {
    ProcessResult run_true = run_process(
        memtrace_run_spec(dir(), {"-o", (dir() / "true.mtd").string(), "--check"}, {"/bin/true"}));
    EXPECT_EQ(run_true.exit_code(), 0) << run_true.describe();
    EXPECT_NE(run_true.err.find("memtrace check: PASSED"), std::string::npos) << run_true.err;

    if (find_in_path("python3").empty()) GTEST_SKIP() << "no python3 on PATH";
    ProcessResult run_python = run_process(memtrace_run_spec(
        dir(), {"-o", (dir() / "python.mtd").string(), "--check"}, {"python3", "-c", "pass"}));
    EXPECT_EQ(run_python.exit_code(), 0) << run_python.describe();
    EXPECT_NE(run_python.err.find("memtrace check: PASSED"), std::string::npos) << run_python.err;
}

TEST_F(CiGate, LeaksJsonCarriesKinds) {
    const auto dump = trace_target("kinds", {"leak", "2", "100", "keep", "500"});
    json leaks = leaks_json(dump).json;
    const bool scanned = leaks.at("scan").at("status") == "complete";
    uint64_t kinds_bytes = 0;
    for (const char* kind : {"definite", "indirect", "reachable", "live"})
        kinds_bytes += leaks.at("kinds").at(kind).at("bytes").get<uint64_t>();
    EXPECT_EQ(kinds_bytes, leaks.at("total_bytes").get<uint64_t>());
    for (const json& site : leaks.at("sites")) {
        expect_kind_consistent(leaks, site);
        const std::string function = site.at("frames").at(0).at("function");
        const std::string kind = site.at("kind");
        if (function == "lose_block") {
            EXPECT_EQ(kind, scanned ? "definite" : "live");
        }
        if (function == "keep_block") {
            EXPECT_EQ(kind, scanned ? "reachable" : "live");
        }
    }
    // Text: reachable sites only with --all.
    ProcessResult text = memtrace({"leaks", dump.string()});
    ProcessResult all = memtrace({"leaks", dump.string(), "--all"});
    EXPECT_NE(all.out.find("keep_block"), std::string::npos) << all.out;
    EXPECT_EQ(text.out.find("keep_block") != std::string::npos, !scanned) << text.out;
    if (!scanned) {
        EXPECT_NE(text.out.find("No reachability scan"), std::string::npos) << text.out;
    }
}

} // namespace
} // namespace memtrace::integration
