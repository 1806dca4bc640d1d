// Steady growth over the snapshots of one run: a least-squares line through each site's live
// bytes, and the rule that tells a leak-like rise from churn. Pure logic; the report
// (reports/growth_report.h) supplies the series and the frames.
//
// The rule (docs/growth.md): a site grows steadily when, over the snapshots considered,
//  - its live bytes at the last snapshot exceed those at the first (net growth > 0),
//  - the fitted slopes over time and over snapshot number are positive, and
//  - a line explains most of the variation: R^2 >= min_r2 (default 0.8) for the fit over time
//    or for the fit over snapshot number. Snapshots need not be evenly spaced: taken through
//    the API after every N requests, they mark work done, and a load-dependent pace must not
//    make a leak of exactly N x 1 KiB per snapshot look unsteady.
// A site that allocates and frees a lot but stays flat has a slope near 0 and an R^2 near 0
// (its live bytes only wobble), and one that rises and falls back has no net growth. Steady
// sites rank by bytes per second, then net growth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace memtrace::growth {

struct LineFit {
    double slope = 0;
    double intercept = 0;
    // Share of the variance of y that the line explains, in [0, 1]. 0 when y is constant: a
    // flat series has no trend to explain.
    double r2 = 0;
};

// Least squares y = intercept + slope * x. x must not be constant for a slope other than 0.
LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y);

struct GrowthRule {
    double min_r2 = 0.8;
};

// One site's live figures at each snapshot considered, in time order.
struct SiteSeries {
    std::vector<uint64_t> bytes;
    std::vector<uint64_t> blocks;
};

struct SiteGrowth {
    size_t site = 0;               // index into the input series
    double bytes_per_second = 0;   // fitted slope over time
    double bytes_per_snapshot = 0; // fitted slope over snapshot number
    double blocks_per_snapshot = 0;
    double r2 = 0;           // of the fit over time
    double r2_snapshots = 0; // of the fit over snapshot number
    uint64_t first_bytes = 0, last_bytes = 0, first_blocks = 0, last_blocks = 0;
    int64_t net_bytes = 0; // last - first
    int64_t net_blocks = 0;
    size_t rises = 0; // intervals between consecutive snapshots in which live bytes rose
    double share = 0; // net_bytes / the sum of every site's positive net growth
    bool steady = false;
};

struct GrowthRanking {
    std::vector<SiteGrowth> steady; // best first
    size_t unsteady = 0;            // sites with net growth that the rule rejected (R^2 or slope)
    uint64_t positive_growth = 0;   // sum of every site's positive net growth, in bytes
};

// times_s: when each snapshot was taken; every series has one value per snapshot. Needs at
// least two snapshots at different times (the caller insists on three for a fit to mean much).
GrowthRanking rank_growth(const std::vector<double>& times_s, const std::vector<SiteSeries>& series,
                          const GrowthRule& rule);

} // namespace memtrace::growth
