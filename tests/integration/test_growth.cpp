// `memtrace diff` and `memtrace growth` on growth_service (tests/programs/growth_service.c): a
// loop of requests with flat churn and one cache site keeping 1024 bytes per request, with a
// snapshot through memtrace.h after every 1000 requests. Periodic snapshots are switched off
// (MEMTRACE_INTERVAL=0) so that every snapshot falls on a known request count and the figures
// can be checked exactly.
#include "integration_test.h"

#include <cmath>
#include <cstdint>
#include <string>

namespace memtrace::integration {
namespace {

using nlohmann::json;

constexpr uint64_t kEntry = 1024;       // bytes the cache keeps per request
constexpr uint64_t kPerSnapshot = 1000; // requests between snapshots
constexpr uint64_t kRequests = 10000;   // the program's default
constexpr const char* kSource = "growth_service.c";
// Sites of the request loop that allocate and free (or stay flat) and must never rank.
const std::vector<std::string> kChurnFunctions = {"parse_request", "render_response",
                                                  "remember_response"};

class GrowthDiff : public IntegrationTest {
protected:
    // Traces `program` with snapshots from the API only; the dump is <dir>/<program>.mtd.
    std::filesystem::path run_service(const std::string& program_name,
                                      const std::vector<std::string>& args = {}) {
        std::vector<std::string> argv = {program(program_name).string()};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessSpec spec = memtrace_run_spec(dir(), {"-o", dump_of(program_name).string()}, argv);
        spec.env_overrides["MEMTRACE_INTERVAL"] = "0";
        spec.timeout = std::chrono::seconds(120);
        const ProcessResult run = run_process(spec);
        EXPECT_TRUE(run.exited() && run.exit_code() == 0) << run.describe();
        return dump_of(program_name);
    }

    ProcessResult analyze(const std::vector<std::string>& args) {
        return run_memtrace(args, dir());
    }

    json analyze_json(std::vector<std::string> args) {
        args.push_back("--json");
        const ProcessResult result = analyze(args);
        if (!result.exited() || result.exit_code() != 0) {
            ADD_FAILURE() << "memtrace " << args.front() << " failed: " << result.describe();
            return json::object();
        }
        return json::parse(result.out);
    }
};

std::string function_of(const json& site, size_t frame = 0) {
    const json& frames = site.at("frames");
    return frames.size() > frame ? frames.at(frame).at("function").get<std::string>() : "";
}

// The innermost frame of the program's own code (frame 0 is the caller of malloc already).
void expect_cache_frames(const json& site) {
    ASSERT_GE(site.at("frames").size(), 3u) << site.dump(2);
    const json& top = site.at("frames").at(0);
    EXPECT_EQ(top.at("function"), "cache_store");
    EXPECT_EQ(file_name(top.at("file").get<std::string>()), kSource);
    EXPECT_EQ(top.at("line").get<unsigned>(), site_line(kSource, "cache_store"));
    EXPECT_EQ(function_of(site, 1), "handle_request");
    EXPECT_EQ(function_of(site, 2), "main");
}

TEST_F(GrowthDiff, GrowthRanksTheCacheFirstWith1024BytesPerRequest) {
    const auto dump = run_service("growth_service");
    const json growth = analyze_json({"growth", dump.string(), "--series"});
    SCOPED_TRACE(growth.dump(2));

    // The ten API snapshots; the one taken at exit is left out by default.
    const json& snapshots = growth.at("snapshots");
    ASSERT_EQ(snapshots.size(), kRequests / kPerSnapshot);
    for (size_t i = 0; i < snapshots.size(); ++i) {
        EXPECT_EQ(snapshots[i].at("label"), "after-" + std::to_string((i + 1) * kPerSnapshot));
        EXPECT_EQ(snapshots[i].at("trigger"), "api");
    }

    // Only the cache grows; the churn of every request is flat.
    ASSERT_EQ(growth.at("site_count").get<size_t>(), 1u);
    const json& cache = growth.at("sites").at(0);
    expect_cache_frames(cache);
    for (size_t i = 0; i < snapshots.size(); ++i) {
        EXPECT_EQ(cache.at("bytes_series").at(i).get<uint64_t>(), (i + 1) * kPerSnapshot * kEntry);
        EXPECT_EQ(cache.at("blocks_series").at(i).get<uint64_t>(), (i + 1) * kPerSnapshot);
    }
    EXPECT_NEAR(cache.at("bytes_per_snapshot").get<double>() / kPerSnapshot, kEntry, 1e-6);
    EXPECT_NEAR(cache.at("blocks_per_snapshot").get<double>(), kPerSnapshot, 1e-9);
    // Against snapshot number the rise is exact; against time it depends on the machine's load.
    EXPECT_DOUBLE_EQ(cache.at("r2_snapshots").get<double>(), 1.0);
    EXPECT_GE(cache.at("r2").get<double>(), 0.0);
    EXPECT_GT(cache.at("bytes_per_second").get<double>(), 0.0);
    EXPECT_EQ(cache.at("net_bytes").get<int64_t>(), 9000 * 1024);
    EXPECT_EQ(cache.at("rises").get<size_t>(), 9u);
    EXPECT_DOUBLE_EQ(cache.at("share").get<double>(), 1.0);

    // Text: the same site first, named.
    const ProcessResult text = analyze({"growth", dump.string()});
    ASSERT_EQ(text.exit_code(), 0) << text.describe();
    EXPECT_NE(text.out.find("1. +1024000.0 bytes (+1000.0 KiB) per snapshot"), std::string::npos)
        << text.out;
    EXPECT_NE(text.out.find("in cache_store"), std::string::npos) << text.out;
    for (const std::string& churn : kChurnFunctions)
        EXPECT_EQ(text.out.find("in " + churn), std::string::npos) << churn << "\n" << text.out;
}

TEST_F(GrowthDiff, PeriodicSnapshotsCatchChurnMidRequestAndItStillDoesNotRank) {
    // The sampler's snapshots every 10 ms land in the middle of requests, where the churn sites
    // hold their temporary buffers: their live bytes wobble, the cache's still rise.
    std::vector<std::string> argv = {program("growth_service").string(), "30000"};
    ProcessSpec spec = memtrace_run_spec(dir(), {"-o", dump_of("growth_service").string()}, argv);
    spec.env_overrides["MEMTRACE_INTERVAL"] = "0.01";
    const ProcessResult run = run_process(spec);
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    // Up to the last API snapshot: after it the service frees its cache and exits.
    const json growth =
        analyze_json({"growth", dump_of("growth_service").string(), "--to", "after-30000"});
    SCOPED_TRACE(growth.dump(2));
    size_t periodic = 0;
    for (const json& snapshot : growth.at("snapshots"))
        periodic += snapshot.at("trigger") == "interval" ? 1 : 0;
    EXPECT_EQ(growth.at("snapshots").size(), 30 + periodic);
    EXPECT_GE(periodic, 1u) << "the run was too short for a periodic snapshot";
    ASSERT_EQ(growth.at("site_count").get<size_t>(), 1u);
    const json& cache = growth.at("sites").at(0);
    expect_cache_frames(cache);
    EXPECT_EQ(cache.at("net_bytes").get<int64_t>(), 29000 * 1024);
    EXPECT_GT(cache.at("r2").get<double>(), 0.8);
}

TEST_F(GrowthDiff, DiffBetweenSnapshotsShowsOnlyTheCache) {
    const auto dump = run_service("growth_service");
    const json diff =
        analyze_json({"diff", dump.string() + "@after-1000", dump.string() + "@after-10000"});
    SCOPED_TRACE(diff.dump(2));
    EXPECT_EQ(diff.at("a").at("snapshot").at("number"), 1);
    EXPECT_EQ(diff.at("a").at("snapshot").at("label"), "after-1000");
    EXPECT_EQ(diff.at("b").at("snapshot").at("number"), 10);
    EXPECT_EQ(diff.at("total_delta_bytes").get<int64_t>(), 9000 * 1024);
    EXPECT_EQ(diff.at("total_delta_blocks").get<int64_t>(), 9000);
    // The ring of recent responses holds the same 16 sizes at every multiple of 1000 requests:
    // nothing but the cache changed.
    ASSERT_EQ(diff.at("site_count").get<size_t>(), 1u);
    EXPECT_GE(diff.at("unchanged_sites").get<size_t>(), 1u);
    const json& cache = diff.at("sites").at(0);
    expect_cache_frames(cache);
    EXPECT_EQ(cache.at("delta_bytes").get<int64_t>(), 9000 * 1024);
    EXPECT_EQ(cache.at("delta_blocks").get<int64_t>(), 9000);
    EXPECT_EQ(cache.at("a_bytes").get<uint64_t>(), 1000 * kEntry);
    EXPECT_EQ(cache.at("b_bytes").get<uint64_t>(), 10000 * kEntry);
    EXPECT_EQ(cache.at("match"), "frames");

    // Numbers select the same snapshots as the labels.
    const json by_number = analyze_json({"diff", dump.string() + "@1", dump.string() + "@10"});
    EXPECT_EQ(by_number.at("sites"), diff.at("sites"));

    // The final state: the service freed its cache and ring at shutdown; the largest shrink
    // comes first.
    const json to_end =
        analyze_json({"diff", dump.string() + "@after-10000", dump.string() + "@end"});
    EXPECT_EQ(to_end.at("b").at("snapshot"), nullptr);
    ASSERT_EQ(to_end.at("sites").size(), 2u);
    const json& freed_cache = to_end.at("sites").at(0);
    expect_cache_frames(freed_cache);
    EXPECT_EQ(freed_cache.at("delta_bytes").get<int64_t>(), -10240000);
    EXPECT_EQ(freed_cache.at("b_blocks").get<uint64_t>(), 0u);
    // The ring: 16 blocks of 256 + (id % 8) * 16 bytes, each residue twice.
    const json& ring = to_end.at("sites").at(1);
    EXPECT_EQ(function_of(ring), "remember_response");
    EXPECT_EQ(ring.at("delta_bytes").get<int64_t>(),
              -(16 * 256 + 2 * 16 * (1 + 2 + 3 + 4 + 5 + 6 + 7)));
    EXPECT_EQ(ring.at("delta_blocks").get<int64_t>(), -16);

    const ProcessResult text =
        analyze({"diff", dump.string() + "@after-1000", dump.string() + "@after-10000"});
    EXPECT_NE(text.out.find("+9216000 bytes (+8.8 MiB), +9000 blocks: 1024000 -> 10240000 bytes"),
              std::string::npos)
        << text.out;
}

TEST_F(GrowthDiff, MissingSnapshotsAreClearErrors) {
    const auto dump = run_service("growth_service", {"3000"});
    const ProcessResult missing = analyze({"diff", dump.string() + "@after-9000", dump.string()});
    EXPECT_EQ(missing.exit_code(), 1) << missing.describe();
    EXPECT_NE(missing.err.find("no snapshot labelled \"after-9000\""), std::string::npos)
        << missing.err;
    EXPECT_NE(missing.err.find("\"after-3000\""), std::string::npos) << missing.err;
    EXPECT_NE(missing.err.find("@end"), std::string::npos) << missing.err;

    const ProcessResult out_of_range = analyze({"diff", dump.string() + "@99", dump.string()});
    EXPECT_EQ(out_of_range.exit_code(), 1);
    EXPECT_NE(out_of_range.err.find("no snapshot number 99"), std::string::npos)
        << out_of_range.err;
}

TEST_F(GrowthDiff, PathsMayContainAt) {
    const auto dump = run_service("growth_service", {"2000"});
    std::filesystem::create_directory(dir() / "user@host");
    const auto odd = dir() / "user@host" / "run@1.mtd";
    std::filesystem::copy_file(dump, odd);
    const json diff =
        analyze_json({"diff", odd.string() + "@after-1000", odd.string() + "@after-2000"});
    EXPECT_EQ(diff.at("a").at("dump"), odd.string());
    EXPECT_EQ(diff.at("total_delta_bytes").get<int64_t>(), 1000 * 1024);
    // The whole argument names a file: its final state.
    const json whole = analyze_json({"diff", odd.string() + "@after-2000", odd.string()});
    EXPECT_EQ(whole.at("b").at("snapshot"), nullptr);
}

TEST_F(GrowthDiff, TwoBuildsWithDifferentAddressesMatchBySymbols) {
    // The same source at -O0 and at -O2 with padding code: no address is the same.
    const auto o0 = run_service("growth_service");
    const auto o2 = run_service("growth_service_o2", {"5000"});
    const json o0_cache = analyze_json({"diff", o0.string() + "@1", o0.string() + "@2"});
    const json o2_cache = analyze_json({"diff", o2.string() + "@1", o2.string() + "@2"});
    ASSERT_EQ(o0_cache.at("site_count"), 1);
    ASSERT_EQ(o2_cache.at("site_count"), 1);
    EXPECT_NE(o0_cache.at("sites").at(0).at("frames").at(0).at("address"),
              o2_cache.at("sites").at(0).at("frames").at(0).at("address"));

    // After 5000 requests both hold the same heap: every site matches, none changed.
    const json same =
        analyze_json({"diff", o0.string() + "@after-5000", o2.string() + "@after-5000"});
    SCOPED_TRACE(same.dump(2));
    EXPECT_EQ(same.at("site_count").get<size_t>(), 0u);
    EXPECT_GE(same.at("unchanged_sites").get<size_t>(), 2u); // at least the cache and the ring
    EXPECT_EQ(same.at("total_delta_bytes").get<int64_t>(), 0);

    // 10000 requests against 5000: the cache site, matched by frames, and nothing else.
    const json diff =
        analyze_json({"diff", o0.string() + "@after-10000", o2.string() + "@after-5000"});
    SCOPED_TRACE(diff.dump(2));
    ASSERT_EQ(diff.at("site_count").get<size_t>(), 1u);
    const json& cache = diff.at("sites").at(0);
    EXPECT_EQ(cache.at("match"), "frames");
    EXPECT_EQ(cache.at("delta_bytes").get<int64_t>(), -5000 * 1024);
    EXPECT_EQ(cache.at("delta_blocks").get<int64_t>(), -5000);
    EXPECT_EQ(function_of(cache), "cache_store");
    for (const json& site : diff.at("sites"))
        EXPECT_NE(site.at("match"), "only_a");
}

} // namespace
} // namespace memtrace::integration
