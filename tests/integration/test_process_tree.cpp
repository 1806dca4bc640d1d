// fork() children and exec()ed images: each process image gets its own dump.
#include "integration_test.h"

#include <regex>
#include <string>

namespace memtrace::integration {
namespace {

using nlohmann::json;

// The number after "<label> " on a line of the program's output, or -1.
long number_after(const std::string& output, const std::string& label) {
    std::smatch match;
    if (std::regex_search(output, match, std::regex("(^|\n)" + label + " ([0-9]+)\n")))
        return std::stol(match[2].str());
    return -1;
}

class ProcessTree : public IntegrationTest {};

TEST_F(ProcessTree, ForkChildGetsItsOwnDump) {
    const std::string dump_template = (dir() / "fork.%p.mtd").string();
    ProcessResult run =
        run_process(memtrace_run_spec(dir(), {"-o", dump_template}, {program("fork").string()}));
    ASSERT_TRUE(run.exited()) << run.describe();
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    long parent = number_after(run.out, "parent");
    long child = number_after(run.out, "child");
    ASSERT_GT(parent, 0) << run.out;
    ASSERT_GT(child, 0) << run.out;

    const auto parent_dump = dir() / ("fork." + std::to_string(parent) + ".mtd");
    const auto child_dump = dir() / ("fork." + std::to_string(child) + ".mtd");
    EXPECT_EQ(dumps_in_dir(),
              (std::vector<std::filesystem::path>{std::min(parent_dump, child_dump),
                                                  std::max(parent_dump, child_dump)}));
    EXPECT_NE(run.err.find(parent_dump.string()), std::string::npos) << run.err;
    EXPECT_NE(run.err.find(child_dump.string()), std::string::npos) << run.err;

    json parent_leaks = leaks_json(parent_dump).json;
    EXPECT_EQ(parent_leaks.at("pid").get<long>(), parent);
    expect_end(parent_leaks, "exit", true, 0, std::nullopt);
    expect_totals(parent_leaks, 111, 1);
    expect_site(parent_leaks, {"parent_leak", 111, 1, "fork.c", "parent_leak", "fork", "main"});
    EXPECT_EQ(parent_leaks.at("flags"), json::array());

    // The child inherited the parent's block but did not allocate it: only its own are here.
    json child_leaks = leaks_json(child_dump).json;
    EXPECT_EQ(child_leaks.at("pid").get<long>(), child);
    expect_end(child_leaks, "exit", true, 0, std::nullopt);
    expect_totals(child_leaks, 2 * 222, 2);
    expect_site(child_leaks, {"child_leak", 444, 2, "fork.c", "child_leak", "fork", "main"});
    EXPECT_EQ(child_leaks.at("flags"), json::array({"fork_child"}));
}

TEST_F(ProcessTree, ExecStartsASecondDumpForTheSamePid) {
    ProcessResult run = run_process(
        memtrace_run_spec(dir(), {}, {program("exec").string(), program("leak_direct").string()}));
    ASSERT_TRUE(run.exited()) << run.describe();
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    long pid = number_after(run.out, "exec pid");
    ASSERT_GT(pid, 0) << run.out;

    const auto before = dir() / ("memtrace.exec." + std::to_string(pid) + ".mtd");
    const auto after = dir() / ("memtrace.leak_direct." + std::to_string(pid) + ".mtd");
    EXPECT_EQ(dumps_in_dir(), (std::vector<std::filesystem::path>{before, after}));

    json first = leaks_json(before).json;
    EXPECT_EQ(first.at("pid").get<long>(), pid);
    EXPECT_EQ(file_name(first.at("program").get<std::string>()), "exec");
    expect_end(first, "exec", true, std::nullopt, std::nullopt);
    expect_totals(first, 333, 1);
    expect_site(first, {"before_exec_leak", 333, 1, "exec.c", "before_exec_leak", "exec", "main"});

    json second = leaks_json(after).json;
    EXPECT_EQ(second.at("pid").get<long>(), pid);
    EXPECT_EQ(file_name(second.at("program").get<std::string>()), "leak_direct");
    expect_end(second, "exit", true, 0, std::nullopt);
    expect_totals(second, 4396, 4);
    expect_site(second,
                {"leak_hundred", 300, 3, "leak_direct.c", "leak_hundred", "leak_direct", "main"});
    expect_site(second,
                {"leak_page", 4096, 1, "leak_direct.c", "leak_page", "leak_direct", "main"});
}

} // namespace
} // namespace memtrace::integration
