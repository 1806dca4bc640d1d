// Sampling mode (memtrace run --sample) and the anonymous mappings seen through the mmap hooks.
#include "dump_reader.h"
#include "integration_test.h"
#include "symbolizer.h"

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <sys/mman.h>

namespace memtrace::integration {
namespace {

using nlohmann::json;

// The value after "<label> " in a program's output.
std::optional<uint64_t> printed(const std::string& out, const std::string& label) {
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(label + " ", 0) == 0) return std::stoull(line.substr(label.size() + 1));
    }
    return std::nullopt;
}

std::string first_function(const json& site) {
    return site.at("frames").at(0).at("function").get<std::string>();
}

class Sampling : public IntegrationTest {
protected:
    ProcessResult trace_sampled(const std::string& name, const std::string& sample) {
        ProcessSpec spec = memtrace_run_spec(
            dir(), {"--sample", sample, "-o", dump_of(name).string()}, {program(name).string()});
        return run_process(spec);
    }
};

TEST_F(Sampling, EstimatedLeakIsWithinTenPercentOfTheTruth) {
    // sampled_leak leaks 20,000 blocks (~18 MB) among 200,000 freed ones. With one sample per
    // 8 KiB the estimate's standard deviation is about 2% (measured over 20 runs: 0.974-1.042 of
    // the truth), so 10% is 5 standard deviations: the check does not flake.
    ProcessResult run = trace_sampled("sampled_leak", "8K");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    const auto truth = printed(run.out, "leaked_bytes");
    ASSERT_TRUE(truth) << run.out;

    DumpReader reader(dump_of("sampled_leak").string());
    EXPECT_TRUE(reader.sampled());
    EXPECT_EQ(reader.sample_bytes(), 8192u);
    EXPECT_NE(reader.header().flags & format::kFlagSampled, 0u);

    json leaks = leaks_json(dump_of("sampled_leak")).json;
    SCOPED_TRACE(leaks.dump(1).substr(0, 4000));
    EXPECT_TRUE(leaks.at("estimated").get<bool>());
    EXPECT_EQ(leaks.at("sample_bytes").get<uint64_t>(), 8192u);
    const double estimate = static_cast<double>(leaks.at("total_bytes").get<uint64_t>());
    EXPECT_NEAR(estimate / static_cast<double>(*truth), 1.0, 0.10)
        << "estimate " << estimate << ", truth " << *truth;
    // Every scratch block was freed, and a sampled block's free is always recorded: the only
    // live site is leak_block (glibc's stdio buffer is never allocated: output uses write(2)).
    ASSERT_EQ(leaks.at("sites").size(), 1u);
    EXPECT_EQ(first_function(leaks.at("sites").at(0)), "leak_block");

    // Each recorded free matched a recorded allocation.
    json report = report_json(dump_of("sampled_leak")).json;
    EXPECT_EQ(report.at("anomalies").at("unknown_frees").get<uint64_t>(), 0u);
}

TEST_F(Sampling, FullTracingOfTheSameProgramIsExact) {
    // The control: without --sample the same program's leak is the printed truth, to the byte.
    ProcessResult run = trace("sampled_leak");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    const auto truth = printed(run.out, "leaked_bytes");
    ASSERT_TRUE(truth) << run.out;
    json leaks = leaks_json(dump_of("sampled_leak")).json;
    EXPECT_FALSE(leaks.at("estimated").get<bool>());
    expect_totals(leaks, *truth, 20000);
}

// sampled_blocks with one sample per byte: every block of 64 bytes or more is recorded. The
// program checks alignment, contents and usable sizes itself (its exit code names a failed
// check), then leaks five blocks and forks; its dumps must hold exactly those leaks.
void expect_sampled_blocks_exact(const ProcessResult& run, const std::filesystem::path& dir) {
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    const auto parent = printed(run.out, "parent");
    const auto child = printed(run.out, "child");
    ASSERT_TRUE(parent && child) << run.out;
    const auto dump = [&dir](uint64_t pid) {
        return dir / ("sampled_blocks." + std::to_string(pid) + ".mtd");
    };

    // A block of s bytes is a sample point with probability 1 - e^-s, 1 to double precision:
    // the estimates are the exact leaks.
    json leaks = leaks_json(dump(*parent)).json;
    EXPECT_TRUE(leaks.at("estimated").get<bool>());
    const ExpectedSite sites[] = {
        {"leak_malloc", 1001, 1, "sampled_blocks.c", "leak_malloc", "sampled_blocks", "main"},
        {"leak_calloc", 1010, 1, "sampled_blocks.c", "leak_calloc", "sampled_blocks", "main"},
        {"leak_realloc", 1020, 1, "sampled_blocks.c", "leak_realloc", "sampled_blocks", "main"},
        {"leak_memalign", 1050, 1, "sampled_blocks.c", "leak_memalign", "sampled_blocks", "main"},
        {"leak_pvalloc", 8192, 1, "sampled_blocks.c", "leak_pvalloc", "sampled_blocks", "main"},
    };
    std::vector<std::string> functions;
    for (const ExpectedSite& site : sites) {
        expect_site(leaks, site);
        functions.push_back(site.function);
    }
    expect_site_functions(leaks, functions);
    expect_totals(leaks, 1001 + 1010 + 1020 + 1050 + 8192, 5);
    // Each recorded free matched a recorded allocation, through every realloc.
    EXPECT_EQ(report_json(dump(*parent)).json.at("anomalies").at("unknown_frees"), 0);

    // The child freed two of the parent's recorded blocks: not in its dump, so not recorded.
    json child_leaks = leaks_json(dump(*child)).json;
    expect_site_functions(child_leaks, {"child_leak"});
    expect_totals(child_leaks, 2222, 1);
    EXPECT_EQ(report_json(dump(*child)).json.at("anomalies").at("unknown_frees"), 0);
}

TEST_F(Sampling, RecordedBlocksBehaveAsTheProgramExpects) {
    // On glibc's allocator: every recorded block carries memtrace's header.
    ProcessResult run = run_process(memtrace_run_spec(
        dir(), {"--sample", "1", "-o", (dir() / "sampled_blocks.%p.mtd").string()},
        {program("sampled_blocks").string()}));
    expect_sampled_blocks_exact(run, dir());
}

TEST_F(Sampling, AnotherAllocatorKeepsTheRecordedAddressesInstead) {
    // libmtforward.so, preloaded after memtrace, is the allocator memtrace's hooks call: not
    // libc.so, so memtrace keeps the recorded addresses in its set and adds no header.
    ProcessSpec spec = native_run_spec(dir(), {program("sampled_blocks").string()});
    spec.env_overrides["LD_PRELOAD"] =
        memtrace_lib().string() + " " + program("libmtforward.so").string();
    spec.env_overrides["MEMTRACE_OUTPUT"] = (dir() / "sampled_blocks.%p.mtd").string();
    spec.env_overrides["MEMTRACE_SAMPLE_BYTES"] = "1";
    expect_sampled_blocks_exact(run_process(spec), dir());
}

TEST_F(Sampling, RejectsWhatIsNotAByteCount) {
    ProcessSpec spec =
        memtrace_run_spec(dir(), {"--sample", "12X"}, {program("sampled_leak").string()});
    ProcessResult run = run_process(spec);
    EXPECT_EQ(run.exit_code(), 2) << run.describe();
    EXPECT_NE(run.err.find("not a byte count"), std::string::npos) << run.err;
    EXPECT_TRUE(dumps_in_dir().empty());
}

class Mappings : public IntegrationTest {
protected:
    struct Traced {
        uint64_t arena = 0;
        uint64_t moved = 0;
    };

    Traced run_anonymous_mmap(const std::vector<std::string>& launcher_args) {
        std::vector<std::string> args = launcher_args;
        args.insert(args.end(), {"-o", dump_of("anonymous_mmap").string()});
        ProcessResult run =
            run_process(memtrace_run_spec(dir(), args, {program("anonymous_mmap").string()}));
        EXPECT_EQ(run.exit_code(), 0) << run.describe();
        Traced traced;
        traced.arena = printed(run.out, "arena").value_or(0);
        traced.moved = printed(run.out, "moved").value_or(0);
        EXPECT_NE(traced.arena, 0u) << run.out;
        return traced;
    }

    static std::string function_of(DumpReader& reader, Symbolizer& symbolizer, uint32_t stack_id) {
        const StackTrace* stack = reader.find_stack(stack_id);
        if (!stack || stack->frames.empty()) return "<no stack>";
        auto frames = symbolizer.symbolize(stack->frames.front(), stack->time_ns);
        return frames.empty() ? "<unknown>" : frames.back().function;
    }

    void check_mappings(const Traced& traced) {
        DumpReader reader(dump_of("anonymous_mmap").string());
        Symbolizer symbolizer(reader.modules());
        const auto& events = reader.memory_map_events();
        constexpr uint64_t kArena = 8 << 20, kScratch = 1 << 20;

        const MemoryMapEvent* arena = nullptr;
        const MemoryMapEvent* scratch = nullptr;
        const MemoryMapEvent* remap = nullptr;
        bool scratch_unmapped = false, arena_unmapped = false, file_unmapped = false;
        for (const MemoryMapEvent& e : events) {
            if (e.op == format::MemoryMapOp::Map) {
                EXPECT_NE(e.flags & MAP_ANONYMOUS, 0u) << "only anonymous mappings are recorded";
                if (e.address == traced.arena && e.length == kArena) arena = &e;
                if (e.length == kScratch) scratch = &e;
            } else if (e.op == format::MemoryMapOp::Unmap) {
                if (scratch && e.address == scratch->address && e.length == kScratch &&
                    e.time_ns >= scratch->time_ns)
                    scratch_unmapped = true;
                if (e.address < traced.arena + kArena && traced.arena < e.address + e.length)
                    arena_unmapped = true;
                if (e.length == 4096) file_unmapped = true;
            } else if (e.op == format::MemoryMapOp::Remap) {
                if (e.new_address == traced.moved && e.new_length == (4u << 20)) remap = &e;
            }
        }
        ASSERT_NE(arena, nullptr) << "no Map record of the 8 MiB arena at " << traced.arena;
        EXPECT_EQ(arena->prot, static_cast<uint32_t>(PROT_READ | PROT_WRITE));
        EXPECT_NE(arena->stack_id, format::kNoStack);
        EXPECT_EQ(function_of(reader, symbolizer, arena->stack_id), "map_arena");
        EXPECT_FALSE(arena_unmapped) << "the arena is never unmapped";

        ASSERT_NE(scratch, nullptr);
        EXPECT_EQ(function_of(reader, symbolizer, scratch->stack_id), "map_scratch");
        EXPECT_TRUE(scratch_unmapped) << "map_scratch's munmap must follow its mmap";

        ASSERT_NE(remap, nullptr) << "no Remap record to " << traced.moved;
        EXPECT_EQ(remap->length, 64u << 10);
        EXPECT_EQ(function_of(reader, symbolizer, remap->stack_id), "grow_and_move");

        // The file mapping is not anonymous: its munmap is recorded, its mmap is not.
        EXPECT_TRUE(file_unmapped);
    }
};

TEST_F(Mappings, AnonymousMmapNamesTheCallingFunction) {
    check_mappings(run_anonymous_mmap({}));
}

TEST_F(Mappings, SamplingStillRecordsEveryMapping) {
    check_mappings(run_anonymous_mmap({"--sample", "1M"}));
}

} // namespace
} // namespace memtrace::integration
