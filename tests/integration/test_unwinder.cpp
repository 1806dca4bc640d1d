// memtrace's own unwinder (cached .eh_frame rules, the default) must capture exactly the stacks
// libunwind's unw_backtrace does (MEMTRACE_UNWINDER=libunwind). Each program runs under both;
// every Alloc event's stack, written module-relative so that address-space randomization does
// not matter, must be the same in both dumps, as many times. MEMTRACE_UNWINDER=compare checks
// the same thing capture by capture inside one run.
#include "dump_reader.h"
#include "integration_test.h"

#include <map>
#include <sstream>
#include <string>

namespace memtrace::integration {
namespace {

// "module+0xoffset" for each frame, innermost first, then "(truncated)" when it was.
std::string describe_stack(const DumpReader& reader, const StackTrace& stack) {
    std::ostringstream out;
    for (const uint64_t address : stack.frames) {
        const ModuleInfo* found = nullptr;
        for (const ModuleInfo& module : reader.modules()) {
            if (address >= module.start && address < module.end &&
                module.load_time_ns <= stack.time_ns && stack.time_ns < module.unload_time_ns)
                found = &module;
        }
        if (found) {
            out << file_name(found->path) << "+0x" << std::hex << address - found->load_bias
                << std::dec << " ";
        } else {
            out << "?0x" << std::hex << address << std::dec << " ";
        }
    }
    if (stack.truncated) out << "(truncated)";
    return out.str();
}

// How many Alloc events each stack has.
std::map<std::string, uint64_t> allocations_by_stack(const std::filesystem::path& dump) {
    DumpReader reader(dump.string());
    std::map<std::string, uint64_t> counts;
    reader.for_each_event([&](const HeapEvent& event) {
        if (event.type != HeapEvent::Type::Alloc) return;
        const StackTrace* stack = reader.find_stack(event.stack_id);
        ++counts[stack ? describe_stack(reader, *stack) : "no stack"];
    });
    return counts;
}

class Unwinder : public IntegrationTest {
protected:
    ProcessResult run(const std::string& program_name, const std::string& unwinder,
                      const std::vector<std::string>& args) {
        std::vector<std::string> argv = {program(program_name).string()};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessSpec spec = memtrace_run_spec(
            dir(), {"-o", (dir() / (program_name + "." + unwinder + ".mtd")).string()}, argv);
        spec.env_overrides["MEMTRACE_UNWINDER"] = unwinder;
        return run_process(spec);
    }

    void expect_same_stacks(const std::string& program_name,
                            const std::vector<std::string>& args = {}) {
        for (const char* unwinder : {"libunwind", "memtrace", "compare"}) {
            ProcessResult result = run(program_name, unwinder, args);
            ASSERT_TRUE(result.exited() && result.exit_code() == 0)
                << unwinder << ": " << result.describe();
            if (std::string(unwinder) == "compare") {
                // "captures N, fallbacks F, mismatches 0", with most captures walked by rules.
                EXPECT_NE(result.err.find(", mismatches 0\n"), std::string::npos) << result.err;
                EXPECT_EQ(result.err.find("unwinder mismatch"), std::string::npos) << result.err;
            }
        }
        const auto reference = allocations_by_stack(dir() / (program_name + ".libunwind.mtd"));
        const auto own = allocations_by_stack(dir() / (program_name + ".memtrace.mtd"));
        EXPECT_GT(reference.size(), 20u);
        EXPECT_EQ(own.size(), reference.size());
        for (const auto& [stack, count] : reference) {
            const auto it = own.find(stack);
            if (it == own.end()) {
                ADD_FAILURE() << "only libunwind captured " << count << " x " << stack;
            } else {
                EXPECT_EQ(it->second, count) << stack;
            }
        }
        for (const auto& [stack, count] : own)
            if (!reference.count(stack))
                ADD_FAILURE() << "only memtrace captured " << count << " x " << stack;
    }
};

TEST_F(Unwinder, OptimizedCWithSignalsThreadsAndPluginGivesLibunwindsStacks) {
    expect_same_stacks("unwind_shapes", {plugin_library().string()});
}

TEST_F(Unwinder, CxxExceptionsAndContainersGiveLibunwindsStacks) {
    expect_same_stacks("unwind_shapes_cxx");
}

struct CompareCounts {
    unsigned long captures = 0, fallbacks = 0, mismatches = 1;
};

// The line MEMTRACE_UNWINDER=compare prints at exit.
CompareCounts compare_counts(const std::string& err) {
    CompareCounts counts;
    const auto at = err.find("memtrace: unwinder compare: ");
    if (at == std::string::npos ||
        sscanf(err.c_str() + at,
               "memtrace: unwinder compare: captures %lu, fallbacks %lu, mismatches %lu",
               &counts.captures, &counts.fallbacks, &counts.mismatches) != 3)
        ADD_FAILURE() << "no comparison line in: " << err;
    return counts;
}

TEST_F(Unwinder, CompareModeCountsCapturesAndFallbacks) {
    ProcessResult result = run("unwind_shapes", "compare", {plugin_library().string()});
    ASSERT_TRUE(result.exited() && result.exit_code() == 0) << result.describe();
    const CompareCounts counts = compare_counts(result.err);
    EXPECT_EQ(counts.mismatches, 0u);
    EXPECT_GT(counts.captures, 3000u);
    // The ten allocations in signal handlers (a signal frame, an alternate stack) and the three
    // in the coroutine (a stack of its own) go to libunwind; everything else is walked by
    // memtrace's rules.
    EXPECT_EQ(counts.fallbacks, 13u);
}

TEST_F(Unwinder, RulesOfUnloadedCodeMakeRoomForNewOnes) {
    // 6000 retirements of every cached rule: without reusing retired slots the rule cache
    // would be full long before the end, and the captures would all go to libunwind.
    ProcessResult result = run("unwind_dlclose_churn", "compare", {plugin_library().string()});
    ASSERT_TRUE(result.exited() && result.exit_code() == 0) << result.describe();
    const CompareCounts counts = compare_counts(result.err);
    EXPECT_EQ(counts.mismatches, 0u);
    EXPECT_GT(counts.captures, 6000u);
    EXPECT_LT(counts.fallbacks * 100, counts.captures) << result.err;
}

} // namespace
} // namespace memtrace::integration
