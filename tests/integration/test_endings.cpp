// How a traced run ended, as the launcher passes it on and as the dump records it: normal
// exits of every kind, fatal signals the preload sees, and SIGKILL, which nobody inside sees.
#include "integration_test.h"

#include <chrono>
#include <csignal>
#include <fstream>
#include <signal.h>
#include <string>
#include <thread>

namespace memtrace::integration {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class Endings : public IntegrationTest {
protected:
    // Runs program natively and under memtrace run with the same arguments, and checks that
    // stdout and the exit status are identical and that the dump ends with exit `code`.
    void expect_exit_passed_through(const std::string& name, const std::vector<std::string>& args,
                                    int code, const ExpectedSite& leak) {
        std::vector<std::string> argv = {program(name).string()};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessResult native = run_process(native_run_spec(dir(), argv));
        ASSERT_TRUE(native.exited()) << native.describe();
        ASSERT_EQ(native.exit_code(), code) << native.describe();

        ProcessResult traced = trace(name, args);
        ASSERT_TRUE(traced.exited()) << traced.describe();
        EXPECT_EQ(traced.exit_code(), code) << traced.describe();
        EXPECT_EQ(traced.out, native.out);

        json leaks = leaks_json(dump_of(name)).json;
        expect_end(leaks, "exit", true, code, std::nullopt);
        expect_site(leaks, leak);
    }
};

TEST_F(Endings, ExitCodeIsPassedThrough) {
    expect_exit_passed_through(
        "exit_code", {}, 3,
        {"leak_before_exit", 10, 1, "exit_code.c", "leak_before_exit", "exit_code", "main"});
}

TEST_F(Endings, QuickExitCodeIsPassedThrough) {
    expect_exit_passed_through("quick_exit", {}, 5,
                               {"leak_before_quick_exit", 20, 1, "quick_exit.c",
                                "leak_before_quick_exit", "quick_exit", "main"});
}

TEST_F(Endings, ExitFromSignalHandlerIsPassedThrough) {
    expect_exit_passed_through("exit_in_handler", {}, 7,
                               {"leak_before_signal", 30, 1, "exit_in_handler.c",
                                "leak_before_signal", "exit_in_handler", "main"});
}

TEST_F(Endings, ReturnFromMainIsPassedThroughWithArguments) {
    const std::vector<std::string> args = {"two words", "", "--", "-q"};
    expect_exit_passed_through("return_from_main", args, 42,
                               {"leak_before_return", 40, 1, "return_from_main.c",
                                "leak_before_return", "return_from_main", "main"});
    json report = report_json(dump_of("return_from_main")).json;
    std::vector<std::string> expected_argv = {program("return_from_main").string()};
    expected_argv.insert(expected_argv.end(), args.begin(), args.end());
    EXPECT_EQ(report.at("argv").get<std::vector<std::string>>(), expected_argv);
}

TEST_F(Endings, AbortIsRecordedAsSignal) {
    ProcessResult run = trace("abort");
    ASSERT_TRUE(run.signaled()) << run.describe();
    EXPECT_EQ(run.term_signal(), SIGABRT);
    json leaks = leaks_json(dump_of("abort")).json;
    expect_end(leaks, "signal", false, std::nullopt, SIGABRT);
    expect_totals(leaks, 2 * 123, 2);
    expect_site(leaks,
                {"leak_before_abort", 246, 2, "abort.c", "leak_before_abort", "abort", "main"});
}

TEST_F(Endings, SegfaultIsRecordedAsSignal) {
    ProcessResult run = trace("segv");
    ASSERT_TRUE(run.signaled()) << run.describe();
    EXPECT_EQ(run.term_signal(), SIGSEGV);
    json leaks = leaks_json(dump_of("segv")).json;
    expect_end(leaks, "signal", false, std::nullopt, SIGSEGV);
    expect_totals(leaks, 321, 1);
    expect_site(leaks, {"leak_before_segv", 321, 1, "segv.c", "leak_before_segv", "segv", "main"});
}

TEST_F(Endings, SelfSigkillUnderLauncherIsRecordedAsKilled) {
    ProcessResult run = trace("sigkill_self");
    ASSERT_TRUE(run.signaled()) << run.describe();
    EXPECT_EQ(run.term_signal(), SIGKILL);
    json leaks = leaks_json(dump_of("sigkill_self")).json;
    expect_end(leaks, "killed", false, std::nullopt, SIGKILL);
    expect_totals(leaks, 5 * 300, 5);
    expect_site(leaks,
                {"hold_block", 1500, 5, "sigkill_self.c", "hold_block", "sigkill_self", "main"});
}

TEST_F(Endings, SelfSigkillWithPlainPreloadIsUnknown) {
    ProcessSpec spec = native_run_spec(dir(), {program("sigkill_self").string()});
    spec.env_overrides["LD_PRELOAD"] = memtrace_lib().string();
    spec.env_overrides["MEMTRACE_OUTPUT"] = dump_of("sigkill_self").string();
    ProcessResult run = run_process(spec);
    ASSERT_TRUE(run.signaled()) << run.describe();
    EXPECT_EQ(run.term_signal(), SIGKILL);
    // No launcher watched the process, so nobody could write how it ended.
    json leaks = leaks_json(dump_of("sigkill_self")).json;
    expect_end(leaks, "unknown", false, std::nullopt, std::nullopt);
    expect_totals(leaks, 5 * 300, 5);
    expect_site(leaks,
                {"hold_block", 1500, 5, "sigkill_self.c", "hold_block", "sigkill_self", "main"});
}

// The program sits idle in nanosleep; every event it produced happened at least 200 ms before
// the SIGKILL from outside, and all of them must be in the dump.
TEST_F(Endings, ExternalSigkillOfIdleProgramKeepsEveryEvent) {
    const std::filesystem::path pid_file = dir() / "idle.pid";
    ProcessSpec spec =
        memtrace_run_spec(dir(), {"-o", dump_of("idle_until_killed").string()},
                          {program("idle_until_killed").string(), pid_file.string()});
    spec.timeout = 40s;
    Subprocess launcher(spec);

    pid_t target = -1;
    auto give_up = std::chrono::steady_clock::now() + 10s;
    while (target <= 0 && std::chrono::steady_clock::now() < give_up) {
        std::ifstream in(pid_file);
        long value = 0;
        if (in >> value)
            target = static_cast<pid_t>(value);
        else
            std::this_thread::sleep_for(10ms);
    }
    if (target <= 0) {
        ProcessResult early = launcher.wait(); // bounded by spec.timeout
        FAIL() << "no pid file within 10 s\n" << early.describe();
    }
    ASSERT_NE(target, launcher.pid()) << "the pid file must hold the program's pid";
    std::this_thread::sleep_for(200ms);
    ASSERT_EQ(kill(target, SIGKILL), 0);

    ProcessResult run = launcher.wait();
    ASSERT_TRUE(run.signaled()) << run.describe();
    EXPECT_EQ(run.term_signal(), SIGKILL);
    json leaks = leaks_json(dump_of("idle_until_killed")).json;
    expect_end(leaks, "killed", false, std::nullopt, SIGKILL);
    EXPECT_EQ(leaks.at("pid").get<long>(), static_cast<long>(target));
    expect_totals(leaks, 4 * 512, 4);
    expect_site(leaks, {"idle_block", 2048, 4, "idle_until_killed.c", "idle_block",
                        "idle_until_killed", "main"});
}

} // namespace
} // namespace memtrace::integration
