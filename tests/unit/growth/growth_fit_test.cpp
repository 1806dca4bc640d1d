// Least-squares fits and the steady-growth rule.
#include "growth/growth_fit.h"

#include <gtest/gtest.h>

namespace memtrace::growth {
namespace {

TEST(GrowthFit, ExactLine) {
    const LineFit fit = fit_line({1, 2, 3, 4}, {10, 20, 30, 40});
    EXPECT_DOUBLE_EQ(fit.slope, 10);
    EXPECT_DOUBLE_EQ(fit.intercept, 0);
    EXPECT_DOUBLE_EQ(fit.r2, 1);
}

TEST(GrowthFit, KnownRegression) {
    // x = 1..5, y = 2, 4, 5, 4, 5: slope 0.6, intercept 2.2, R^2 = 0.6 (by hand: Sxy = 6,
    // Sxx = 10, Syy = 6).
    const LineFit fit = fit_line({1, 2, 3, 4, 5}, {2, 4, 5, 4, 5});
    EXPECT_NEAR(fit.slope, 0.6, 1e-12);
    EXPECT_NEAR(fit.intercept, 2.2, 1e-12);
    EXPECT_NEAR(fit.r2, 0.6, 1e-12);
}

TEST(GrowthFit, FlatAndDegenerateSeries) {
    const LineFit flat = fit_line({1, 2, 3}, {7, 7, 7});
    EXPECT_EQ(flat.slope, 0);
    EXPECT_EQ(flat.r2, 0);
    EXPECT_EQ(flat.intercept, 7);
    const LineFit same_time = fit_line({5, 5, 5}, {1, 2, 3});
    EXPECT_EQ(same_time.slope, 0);
    EXPECT_EQ(same_time.r2, 0);
    EXPECT_EQ(fit_line({}, {}).slope, 0);
}

TEST(GrowthFit, LargeValuesKeepTheirPrecision) {
    // Bytes near 1e12 over times near 1e5 s: centred sums give the slope exactly.
    const uint64_t base = 1'000'000'000'000;
    const LineFit fit = fit_line(
        {100000, 100001, 100002, 100003},
        {double(base), double(base + 1024000), double(base + 2048000), double(base + 3072000)});
    EXPECT_DOUBLE_EQ(fit.slope, 1024000);
    EXPECT_DOUBLE_EQ(fit.r2, 1);
}

SiteSeries series(std::vector<uint64_t> bytes, std::vector<uint64_t> blocks = {}) {
    if (blocks.empty()) blocks.assign(bytes.size(), 1);
    return {std::move(bytes), std::move(blocks)};
}

TEST(GrowthFit, SteadyGrowersRankAndChurnersDoNot) {
    const std::vector<double> times = {1, 2, 3, 4, 5, 6};
    const std::vector<SiteSeries> sites = {
        series({0, 64, 0, 64, 0, 64}),                                    // 0: churn, wobbling
        series({4096, 4096, 4096, 4096, 4096, 4096}),                     // 1: churn, flat
        series({1024, 2048, 3072, 4096, 5120, 6144}, {1, 2, 3, 4, 5, 6}), // 2: the cache
        series({0, 5000, 10000, 10000, 5000, 0}),                         // 3: rises and falls back
        series({100, 200, 300, 400, 500, 600}),                           // 4: slower steady growth
        series({0, 900, 0, 0, 0, 1000}),        // 5: grew, but not steadily
        series({600, 500, 400, 300, 200, 100}), // 6: shrinks
    };
    const GrowthRanking ranking = rank_growth(times, sites, GrowthRule{});
    ASSERT_EQ(ranking.steady.size(), 2u);
    const SiteGrowth& cache = ranking.steady[0];
    EXPECT_EQ(cache.site, 2u);
    EXPECT_DOUBLE_EQ(cache.bytes_per_second, 1024);
    EXPECT_DOUBLE_EQ(cache.bytes_per_snapshot, 1024);
    EXPECT_DOUBLE_EQ(cache.blocks_per_snapshot, 1);
    EXPECT_DOUBLE_EQ(cache.r2, 1);
    EXPECT_EQ(cache.first_bytes, 1024u);
    EXPECT_EQ(cache.last_bytes, 6144u);
    EXPECT_EQ(cache.net_bytes, 5120);
    EXPECT_EQ(cache.net_blocks, 5);
    EXPECT_EQ(cache.rises, 5u);
    EXPECT_TRUE(cache.steady);
    // Positive net growth: 64 (site 0) + 5120 + 500 + 1000.
    EXPECT_EQ(ranking.positive_growth, 64u + 5120 + 500 + 1000);
    EXPECT_DOUBLE_EQ(cache.share, 5120.0 / 6684.0);
    EXPECT_EQ(ranking.steady[1].site, 4u);
    // Sites 0 and 5 grew on net but not steadily.
    EXPECT_EQ(ranking.unsteady, 2u);
}

TEST(GrowthFit, UnevenIntervalsUseTimeForTheSlope) {
    // Snapshots at 0, 1 and 3 seconds; 2000 bytes more each snapshot.
    const GrowthRanking ranking =
        rank_growth({0, 1, 3}, {series({0, 2000, 4000})}, GrowthRule{.min_r2 = 0.5});
    ASSERT_EQ(ranking.steady.size(), 1u);
    EXPECT_DOUBLE_EQ(ranking.steady[0].bytes_per_snapshot, 2000);
    // Least squares over (0,0), (1,2000), (3,4000): Sxy = 6000, Sxx = 42/9, slope = 9000/7.
    EXPECT_NEAR(ranking.steady[0].bytes_per_second, 9000.0 / 7.0, 1e-9);
    EXPECT_LT(ranking.steady[0].r2, 1);
}

TEST(GrowthFit, SteadyPerSnapshotCountsWhenTheTimesAreIrregular) {
    // API snapshots every 1000 requests, the machine slowing down and speeding up: exactly
    // 1024000 bytes per snapshot, at uneven times.
    const std::vector<double> times = {0.1, 0.2, 1.5, 1.6, 1.7, 4.0, 4.1};
    const std::vector<SiteSeries> sites = {
        series({1024000, 2048000, 3072000, 4096000, 5120000, 6144000, 7168000})};
    const GrowthRanking ranking = rank_growth(times, sites, GrowthRule{.min_r2 = 0.95});
    ASSERT_EQ(ranking.steady.size(), 1u);
    EXPECT_LT(ranking.steady[0].r2, 0.95);
    EXPECT_DOUBLE_EQ(ranking.steady[0].r2_snapshots, 1.0);
    EXPECT_DOUBLE_EQ(ranking.steady[0].bytes_per_snapshot, 1024000);
}

TEST(GrowthFit, MinimumFitQualityIsTheCaller_s) {
    const std::vector<SiteSeries> noisy = {series({0, 900, 500, 1500, 1200, 2000})};
    const std::vector<double> times = {1, 2, 3, 4, 5, 6};
    EXPECT_EQ(rank_growth(times, noisy, GrowthRule{.min_r2 = 0.95}).steady.size(), 0u);
    EXPECT_EQ(rank_growth(times, noisy, GrowthRule{.min_r2 = 0.5}).steady.size(), 1u);
}

TEST(GrowthFit, TooFewSnapshots) {
    EXPECT_TRUE(rank_growth({1}, {series({5})}, GrowthRule{}).steady.empty());
}

} // namespace
} // namespace memtrace::growth
