// `memtrace diff --json` and `memtrace growth --json` on crafted dumps: snapshots resolved
// against the replay, sites matched across dumps whose module sits at other addresses (ASLR),
// and the steady-growth ranking. The module path does not exist, so frames carry only module
// and address and sites are keyed by their offsets in the module (growth/site_key.h).
#include "dump_builder.h"
#include "dump_error.h"
#include "reports/diff_report.h"
#include "reports/growth_report.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>

namespace memtrace::test {
namespace {

namespace f = memtrace::format;
using nlohmann::json;
constexpr uint64_t T0 = DumpBuilder::kStartNs;
constexpr uint64_t kSecond = 1'000'000'000;
constexpr const char* kModule = "/nonexistent/memtrace-unit-test/libservice.so";
constexpr uint64_t kModuleSize = 0x100000;
// Offsets in the module of the return addresses of each site's stack.
const std::vector<uint64_t> kCacheFrames = {0x1100, 0x2200};
const std::vector<uint64_t> kChurnFrames = {0x1300, 0x2200};
const std::vector<uint64_t> kRingFrames = {0x1400, 0x2200};

std::vector<uint64_t> at(uint64_t base, const std::vector<uint64_t>& offsets) {
    std::vector<uint64_t> frames;
    for (const uint64_t offset : offsets)
        frames.push_back(base + offset);
    return frames;
}

// A service run: `snapshots` API snapshots, one second apart, labelled "after-<k>"; before the
// k-th the cache keeps k x 1024 bytes; churn allocates and frees 500 bytes per step (and holds
// one such block at odd snapshots); the ring holds one 64-byte block throughout. At exit the
// cache is freed and an exit snapshot taken. Stack ids are numbered from `first_id`, and the
// module loaded at `base`, so two runs share no address and no stack id.
DumpBuilder service_run(uint64_t base, uint32_t first_id, int snapshots) {
    DumpBuilder dump;
    ChunkBuilder& chunk = dump.add_chunk(1, T0);
    chunk.process_info(T0 + 1, "/opt/svc/bin/service", std::string("service\0", 8));
    chunk.module_load(T0 + 2, 1, base, base, base + kModuleSize, "\x01\x02", kModule);
    const uint32_t cache = first_id, churn = first_id + 1, ring = first_id + 2;
    chunk.stack(T0 + 3, ring, at(base, kRingFrames));
    chunk.stack(T0 + 4, cache, at(base, kCacheFrames));
    chunk.stack(T0 + 5, churn, at(base, kChurnFrames));
    chunk.alloc(T0 + 6, 0x900000, 64, ring);
    uint64_t next_cache = 0x100000;
    for (int k = 1; k <= snapshots; ++k) {
        const uint64_t t = T0 + static_cast<uint64_t>(k) * kSecond;
        chunk.alloc(t - 500, 0x500000, 500, churn).free(t - 400, 0x500000);
        chunk.alloc(t - 300, next_cache, 1024, cache);
        next_cache += 0x1000;
        if (k % 2 == 1) chunk.alloc(t - 200, 0x600000 + k * 0x1000, 500, churn);
        chunk.snapshot(t, f::SnapshotTrigger::Api, "after-" + std::to_string(k));
        // RSS with every snapshot but the second, in MiB: 10 + k.
        if (k != 2) chunk.process_memory(t, {(10u + k) << 20, 1u << 30, 0, 0, 0, 1});
        if (k % 2 == 1) chunk.free(t + 100, 0x600000 + k * 0x1000);
    }
    const uint64_t end = T0 + static_cast<uint64_t>(snapshots + 1) * kSecond;
    for (uint64_t address = 0x100000; address < next_cache; address += 0x1000)
        chunk.free(end - 100, address);
    chunk.snapshot(end, f::SnapshotTrigger::Exit, "");
    return dump;
}

json diff_json(const std::string& a, const std::string& b) {
    std::ostringstream out;
    reports::write_diff_report(a, b, {.json = true}, out);
    return json::parse(out.str());
}

reports::GrowthReportOptions window(std::string from, std::string to, bool with_exit = false) {
    reports::GrowthReportOptions options;
    options.from = std::move(from);
    options.to = std::move(to);
    options.with_exit = with_exit;
    return options;
}

json growth_json(const std::string& dump, reports::GrowthReportOptions options = {}) {
    options.json = true;
    options.series = true;
    std::ostringstream out;
    reports::write_growth_report(dump, options, out);
    return json::parse(out.str());
}

std::string error_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const DumpError& error) {
        return error.what();
    }
    return "(no error)";
}

TEST(GrowthReport, RanksTheCacheAndNotTheChurn) {
    TempDir dir;
    const std::string path = (dir / "run.mtd").string();
    service_run(0x7f0000000000, 1, 6).write(path);
    const json growth = growth_json(path);
    SCOPED_TRACE(growth.dump(2));
    ASSERT_EQ(growth.at("snapshots").size(), 6u); // the exit snapshot is left out
    EXPECT_EQ(growth.at("snapshots").at(5).at("label"), "after-6");
    EXPECT_EQ(growth.at("snapshots").at(0).at("live_bytes"), 64 + 1024 + 500);
    EXPECT_EQ(growth.at("snapshots").at(1).at("live_bytes"), 64 + 2048);
    EXPECT_DOUBLE_EQ(growth.at("duration_s").get<double>(), 5.0);
    EXPECT_EQ(growth.at("snapshots").at(0).at("rss_bytes"), 11 << 20);
    EXPECT_EQ(growth.at("snapshots").at(1).at("rss_bytes"), nullptr);
    EXPECT_EQ(growth.at("snapshots").at(5).at("rss_bytes"), 16 << 20);
    ASSERT_EQ(growth.at("site_count"), 1);
    const json& cache = growth.at("sites").at(0);
    EXPECT_EQ(cache.at("stack_ids"), json::array({1}));
    EXPECT_DOUBLE_EQ(cache.at("bytes_per_snapshot").get<double>(), 1024);
    EXPECT_NEAR(cache.at("bytes_per_second").get<double>(), 1024, 1e-6);
    EXPECT_DOUBLE_EQ(cache.at("r2").get<double>(), 1);
    EXPECT_EQ(cache.at("bytes_series"), json::array({1024, 2048, 3072, 4096, 5120, 6144}));
    EXPECT_EQ(cache.at("net_bytes"), 5120);
    // Churn ends where it started (odd count of snapshots: 500 at @1, 0 at @6): it never
    // grows on net, so the cache has all the positive growth.
    EXPECT_EQ(growth.at("positive_growth_bytes"), 5120);
    EXPECT_DOUBLE_EQ(cache.at("share").get<double>(), 1.0);
    EXPECT_EQ(cache.at("frames").at(0).at("address"), "0x7f0000001100");
    EXPECT_EQ(cache.at("frames").at(0).at("module"), kModule);
}

TEST(GrowthReport, ExitSnapshotAndRange) {
    TempDir dir;
    const std::string path = (dir / "run.mtd").string();
    service_run(0x7f0000000000, 1, 6).write(path);
    // With the exit snapshot the cache falls to 0 at the end: no net growth, no rank.
    const json with_exit = growth_json(path, window("", "", true));
    EXPECT_EQ(with_exit.at("snapshots").size(), 7u);
    EXPECT_EQ(with_exit.at("site_count"), 0);
    // --from/--to narrow the snapshots by label or number.
    const json range = growth_json(path, window("after-2", "5"));
    ASSERT_EQ(range.at("snapshots").size(), 4u);
    EXPECT_EQ(range.at("snapshots").at(0).at("number"), 2);
    EXPECT_EQ(range.at("sites").at(0).at("bytes_series"), json::array({2048, 3072, 4096, 5120}));
    EXPECT_NE(error_of([&] {
                  growth_json(path, window("5", "2"));
              }).find("the first must not come after the last"),
              std::string::npos);
    EXPECT_NE(error_of([&] {
                  growth_json(path, window("5", "6"));
              }).find("growth needs at least 3 snapshots"),
              std::string::npos);
    EXPECT_NE(error_of([&] { growth_json(path + "@2"); }).find("choose a range with --from"),
              std::string::npos);
}

TEST(GrowthReport, DiffBetweenSnapshotsOfOneDump) {
    TempDir dir;
    const std::string path = (dir / "run.mtd").string();
    service_run(0x7f0000000000, 1, 6).write(path);
    const json diff = diff_json(path + "@after-1", path + "@after-6");
    SCOPED_TRACE(diff.dump(2));
    EXPECT_EQ(diff.at("a").at("snapshot").at("number"), 1);
    EXPECT_EQ(diff.at("b").at("snapshot").at("label"), "after-6");
    EXPECT_EQ(diff.at("a").at("total_bytes"), 64 + 1024 + 500);
    EXPECT_EQ(diff.at("a").at("rss_bytes"), 11 << 20);
    EXPECT_EQ(diff.at("b").at("rss_bytes"), 16 << 20);
    EXPECT_EQ(diff.at("total_delta_bytes"), 5 * 1024 - 500);
    ASSERT_EQ(diff.at("site_count"), 2);
    EXPECT_EQ(diff.at("unchanged_sites"), 1); // the ring
    const json& cache = diff.at("sites").at(0);
    EXPECT_EQ(cache.at("delta_bytes"), 5120);
    EXPECT_EQ(cache.at("delta_blocks"), 5);
    EXPECT_EQ(cache.at("match"), "frames");
    EXPECT_EQ(cache.at("a_stack_ids"), json::array({1}));
    const json& churn = diff.at("sites").at(1);
    EXPECT_EQ(churn.at("delta_bytes"), -500);
    EXPECT_EQ(churn.at("b_blocks"), 0);
    // The final state, and @end, are after the cache was freed.
    const json to_end = diff_json(path + "@6", path);
    EXPECT_EQ(to_end.at("b").at("snapshot"), nullptr);
    EXPECT_EQ(to_end.at("b").at("total_bytes"), 64);
    EXPECT_EQ(to_end.at("b").at("rss_bytes"), nullptr);
    EXPECT_EQ(diff_json(path + "@6", path + "@end").at("sites"), to_end.at("sites"));
}

TEST(GrowthReport, DiffOfTwoRunsMatchesSitesAcrossAddressesAndStackIds) {
    TempDir dir;
    const std::string run1 = (dir / "run1.mtd").string();
    const std::string run2 = (dir / "run2.mtd").string();
    service_run(0x7f0000000000, 1, 3).write(run1);
    service_run(0x7f5500000000, 40, 6).write(run2);
    const json diff = diff_json(run1 + "@after-3", run2 + "@after-6");
    SCOPED_TRACE(diff.dump(2));
    ASSERT_EQ(diff.at("site_count"), 2);
    const json& cache = diff.at("sites").at(0);
    EXPECT_EQ(cache.at("match"), "frames");
    EXPECT_EQ(cache.at("delta_bytes"), 3 * 1024);
    EXPECT_EQ(cache.at("a_stack_ids"), json::array({1}));
    EXPECT_EQ(cache.at("b_stack_ids"), json::array({40}));
    EXPECT_EQ(cache.at("frames").at(0).at("address"), "0x7f5500001100"); // B's stack
    // Churn holds a block at @3 and none at @6: a site of A only.
    const json& churn = diff.at("sites").at(1);
    EXPECT_EQ(churn.at("match"), "only_a");
    EXPECT_EQ(churn.at("delta_bytes"), -500);
    EXPECT_EQ(churn.at("a_stack_ids"), json::array({2}));
    EXPECT_EQ(churn.at("b_stack_ids"), json::array());
    EXPECT_EQ(diff.at("unchanged_sites"), 1);
}

TEST(GrowthReport, StacksThatSymbolizeAlikeAreOneSite) {
    // Two stack ids with the same frames (as after a stack table reset, or frames that differ
    // only in ways the site key ignores): one site, made of both.
    TempDir dir;
    DumpBuilder dump;
    const uint64_t base = 0x7f0000000000;
    ChunkBuilder& chunk = dump.add_chunk(1, T0);
    chunk.module_load(T0 + 1, 1, base, base, base + kModuleSize, "", kModule);
    chunk.stack(T0 + 2, 1, at(base, kCacheFrames))
        .stack(T0 + 3, 2, at(base, kCacheFrames)) // a second id for the same frames
        .alloc(T0 + 10, 0x1000, 100, 1)
        .alloc(T0 + 11, 0x2000, 200, 2)
        .snapshot(T0 + 20, f::SnapshotTrigger::Api, "both")
        .free(T0 + 30, 0x1000);
    const std::string path = (dir / "alike.mtd").string();
    dump.write(path);
    const json diff = diff_json(path + "@both", path);
    SCOPED_TRACE(diff.dump(2));
    ASSERT_EQ(diff.at("site_count"), 1);
    EXPECT_EQ(diff.at("sites").at(0).at("a_bytes"), 300);
    EXPECT_EQ(diff.at("sites").at(0).at("b_bytes"), 200);
    EXPECT_EQ(diff.at("sites").at(0).at("a_stack_ids"), json::array({1, 2}));
    EXPECT_EQ(diff.at("sites").at(0).at("b_stack_ids"), json::array({2}));
}

TEST(GrowthReport, MissingSnapshotsNameWhatExists) {
    TempDir dir;
    const std::string path = (dir / "run.mtd").string();
    service_run(0x7f0000000000, 1, 3).write(path);
    const std::string message = error_of([&] { diff_json(path + "@after-9", path); });
    EXPECT_NE(message.find("no snapshot labelled \"after-9\": " + path + " has 4 snapshots:"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("@3          3.000 s  api      \"after-3\""), std::string::npos)
        << message;
    EXPECT_NE(message.find("@4          4.000 s  exit"), std::string::npos) << message;
}

} // namespace
} // namespace memtrace::test
