// What the launcher refuses, and heap work before main and after exit() starts.
#include "integration_test.h"

#include <string>

namespace memtrace::integration {
namespace {

using nlohmann::json;

class Launcher : public IntegrationTest {};

TEST_F(Launcher, RefusesStaticallyLinkedPrograms) {
    auto target = static_target();
    if (!target) GTEST_SKIP() << "static linking is not possible here; static_target not built";
    ProcessResult run = run_process(
        memtrace_run_spec(dir(), {"-o", (dir() / "static.mtd").string()}, {target->string()}));
    ASSERT_TRUE(run.exited()) << run.describe();
    EXPECT_NE(run.exit_code(), 0) << run.describe();
    EXPECT_NE(run.err.find("statically linked"), std::string::npos) << run.describe();
}

TEST_F(Launcher, QuietRunPrintsNothingButStillTraces) {
    ProcessResult run = run_process(memtrace_run_spec(
        dir(), {"-q", "-o", dump_of("leak_direct").string()}, {program("leak_direct").string()}));
    ASSERT_TRUE(run.exited()) << run.describe();
    EXPECT_EQ(run.exit_code(), 0);
    EXPECT_EQ(run.err, "");
    EXPECT_EQ(run.out, "");
    expect_totals(leaks_json(dump_of("leak_direct")).json, 4396, 4);
}

class Lifetime : public IntegrationTest {};

TEST_F(Lifetime, ConstructorsDestructorsAndAtexitHandlersAreTraced) {
    ProcessResult run = trace("ctor_dtor");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json leaks = leaks_json(dump_of("ctor_dtor")).json;
    expect_end(leaks, "exit", true, 0, std::nullopt);
    expect_totals(leaks, 50 + 70 + 90, 3);
    expect_site_functions(leaks,
                          {"leak_in_constructor()", "leak_in_destructor()", "leak_in_atexit()"});
    expect_site(leaks, {"leak_in_constructor()", 50, 1, "ctor_dtor.cpp", "leak_in_constructor",
                        "ctor_dtor", "Registry::Registry()"});
    expect_site(leaks, {"leak_in_destructor()", 70, 1, "ctor_dtor.cpp", "leak_in_destructor",
                        "ctor_dtor", "Registry::~Registry()"});
    // release_at_exit is static: GCC gives internal-linkage functions no DW_AT_linkage_name,
    // and the analyzer then names them by DW_AT_name, without a parameter list.
    expect_site(leaks, {"leak_in_atexit()", 90, 1, "ctor_dtor.cpp", "leak_in_atexit", "ctor_dtor",
                        "release_at_exit"});

    json report = report_json(dump_of("ctor_dtor")).json;
    SCOPED_TRACE(report.dump(2));
    // 3 x 48 + 50 in the constructor, 60 in main, 90 at exit, 70 in the destructor.
    EXPECT_EQ(report.at("totals").at("allocations").get<uint64_t>(), 7u);
    EXPECT_EQ(report.at("totals").at("frees").get<uint64_t>(), 4u);
    EXPECT_EQ(report.at("totals").at("bytes_allocated").get<uint64_t>(),
              3u * 48u + 50u + 60u + 90u + 70u);
}

} // namespace
} // namespace memtrace::integration
