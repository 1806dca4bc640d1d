#include "growth/growth_fit.h"

#include <algorithm>

namespace memtrace::growth {
namespace {

std::vector<double> as_doubles(const std::vector<uint64_t>& values) {
    return {values.begin(), values.end()};
}

} // namespace

LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
    LineFit fit;
    const size_t n = std::min(x.size(), y.size());
    if (n == 0) return fit;
    double x_mean = 0, y_mean = 0;
    for (size_t i = 0; i < n; ++i) {
        x_mean += x[i];
        y_mean += y[i];
    }
    x_mean /= static_cast<double>(n);
    y_mean /= static_cast<double>(n);
    // Centred sums: no cancellation between large squares.
    double sxx = 0, sxy = 0, syy = 0;
    for (size_t i = 0; i < n; ++i) {
        const double dx = x[i] - x_mean;
        const double dy = y[i] - y_mean;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    fit.intercept = y_mean;
    if (sxx == 0) return fit;
    fit.slope = sxy / sxx;
    fit.intercept = y_mean - fit.slope * x_mean;
    if (syy > 0) fit.r2 = std::clamp(sxy * sxy / (sxx * syy), 0.0, 1.0);
    return fit;
}

GrowthRanking rank_growth(const std::vector<double>& times_s, const std::vector<SiteSeries>& series,
                          const GrowthRule& rule) {
    GrowthRanking ranking;
    const size_t n = times_s.size();
    if (n < 2) return ranking;
    std::vector<double> numbers(n);
    for (size_t i = 0; i < n; ++i)
        numbers[i] = static_cast<double>(i + 1);

    std::vector<SiteGrowth> all;
    for (size_t site = 0; site < series.size(); ++site) {
        const SiteSeries& s = series[site];
        if (s.bytes.size() != n || s.blocks.size() != n) continue;
        SiteGrowth g;
        g.site = site;
        g.first_bytes = s.bytes.front();
        g.last_bytes = s.bytes.back();
        g.first_blocks = s.blocks.front();
        g.last_blocks = s.blocks.back();
        g.net_bytes = static_cast<int64_t>(g.last_bytes) - static_cast<int64_t>(g.first_bytes);
        g.net_blocks = static_cast<int64_t>(g.last_blocks) - static_cast<int64_t>(g.first_blocks);
        if (g.net_bytes > 0) ranking.positive_growth += static_cast<uint64_t>(g.net_bytes);
        for (size_t i = 1; i < n; ++i)
            g.rises += s.bytes[i] > s.bytes[i - 1] ? 1 : 0;
        const std::vector<double> bytes = as_doubles(s.bytes);
        const LineFit over_time = fit_line(times_s, bytes);
        g.bytes_per_second = over_time.slope;
        g.r2 = over_time.r2;
        const LineFit over_snapshots = fit_line(numbers, bytes);
        g.bytes_per_snapshot = over_snapshots.slope;
        g.r2_snapshots = over_snapshots.r2;
        g.blocks_per_snapshot = fit_line(numbers, as_doubles(s.blocks)).slope;
        g.steady = g.net_bytes > 0 && g.bytes_per_second > 0 && g.bytes_per_snapshot > 0 &&
                   std::max(g.r2, g.r2_snapshots) >= rule.min_r2;
        if (g.steady) {
            all.push_back(g);
        } else if (g.net_bytes > 0) {
            ++ranking.unsteady;
        }
    }
    for (SiteGrowth& g : all) {
        g.share = ranking.positive_growth == 0 ? 0
                                               : static_cast<double>(g.net_bytes) /
                                                     static_cast<double>(ranking.positive_growth);
    }
    std::sort(all.begin(), all.end(), [](const SiteGrowth& x, const SiteGrowth& y) {
        if (x.bytes_per_second != y.bytes_per_second)
            return x.bytes_per_second > y.bytes_per_second;
        if (x.net_bytes != y.net_bytes) return x.net_bytes > y.net_bytes;
        return x.site < y.site;
    });
    ranking.steady = std::move(all);
    return ranking;
}

} // namespace memtrace::growth
