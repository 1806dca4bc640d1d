#include "reports/growth_report.h"

#include "dump_error.h"
#include "growth/dump_selection.h"
#include "growth/growth_fit.h"
#include "growth/heap_states.h"
#include "growth/site_catalog.h"
#include "reports/dump_facts.h"
#include "reports/stack_frames.h"

#include <optional>
#include <spdlog/fmt/fmt.h>
#include <unordered_map>

namespace memtrace::reports {
namespace {

// Fewer points than this and any two-point "trend" would look perfectly steady.
constexpr size_t kMinSnapshots = 3;

struct Analysis {
    Analysis(const DumpReader& dump_reader, double rule_min_r2)
        : reader(dump_reader), min_r2(rule_min_r2) {
    }
    const DumpReader& reader;
    std::vector<growth::SnapshotListing> listings;
    std::vector<size_t> considered; // snapshot indices, in time order
    std::vector<growth::HeapState> states;
    std::vector<double> times_s;
    std::vector<growth::SiteSeries> series;
    std::vector<size_t> series_site; // catalog index of each series
    growth::GrowthRanking ranking;
    double min_r2 = 0;
};

// The snapshots between --from and --to (inclusive), without exit snapshots unless asked.
std::vector<size_t> considered_snapshots(const DumpReader& reader, const growth::DumpSpec& dump,
                                         const std::vector<growth::SnapshotListing>& listings,
                                         const GrowthReportOptions& options) {
    if (listings.empty()) {
        // Resolving any number lists why there is nothing to analyse.
        growth::resolve_snapshot({dump.path + "@1", dump.path, "1"}, listings);
    }
    auto bound = [&](const std::string& selector, size_t otherwise) {
        if (selector.empty()) return otherwise;
        const growth::DumpSpec spec{dump.path + "@" + selector, dump.path, selector};
        return growth::resolve_snapshot(spec, listings).value_or(listings.size() - 1);
    };
    const size_t first = bound(options.from, 0);
    const size_t last = bound(options.to, listings.size() - 1);
    if (first > last) {
        throw DumpError(fmt::format("--from names snapshot {} and --to snapshot {}: the first must "
                                    "not come after the last",
                                    first + 1, last + 1));
    }
    std::vector<size_t> considered;
    for (size_t i = first; i <= last; ++i) {
        if (options.with_exit || reader.snapshots()[i].trigger != format::SnapshotTrigger::Exit)
            considered.push_back(i);
    }
    if (considered.size() < kMinSnapshots) {
        throw DumpError(fmt::format(
            "growth needs at least {} snapshots to tell steady growth from noise, and {} of {} "
            "{} considered{}; take snapshots more often (MEMTRACE_INTERVAL, the snapshot signal, "
            "memtrace_snapshot()) or compare two states with 'memtrace diff'",
            kMinSnapshots, considered.size(), dump.path, considered.size() == 1 ? "is" : "are",
            options.with_exit ? "" : " (snapshots taken at exit count only with --with-exit)"));
    }
    return considered;
}

void analyse(Analysis& analysis, growth::SiteCatalog& catalog) {
    std::vector<growth::Moment> moments(analysis.considered.begin(), analysis.considered.end());
    analysis.states = growth::capture_states(analysis.reader, moments);
    const size_t n = analysis.considered.size();
    std::unordered_map<size_t, size_t> series_of; // catalog index -> index in series
    for (size_t i = 0; i < n; ++i) {
        analysis.times_s.push_back(analysis.listings[analysis.considered[i]].time_s);
        const growth::SiteCatalog::KeyedState keyed = catalog.keyed(analysis.states[i]);
        for (size_t k = 0; k < keyed.sites.size(); ++k) {
            auto [entry, inserted] =
                series_of.emplace(keyed.catalog_index[k], analysis.series.size());
            if (inserted) {
                analysis.series.push_back(
                    {std::vector<uint64_t>(n, 0), std::vector<uint64_t>(n, 0)});
                analysis.series_site.push_back(keyed.catalog_index[k]);
            }
            analysis.series[entry->second].bytes[i] = keyed.sites[k].live.bytes;
            analysis.series[entry->second].blocks[i] = keyed.sites[k].live.blocks;
        }
    }
    analysis.ranking = growth::rank_growth(analysis.times_s, analysis.series,
                                           growth::GrowthRule{.min_r2 = analysis.min_r2});
}

std::string rate(double bytes) {
    const double magnitude = bytes < 0 ? -bytes : bytes;
    const std::string human = human_bytes(static_cast<uint64_t>(magnitude + 0.5));
    return fmt::format("{}{:.1f} bytes ({}{})", bytes < 0 ? "-" : "+", magnitude,
                       bytes < 0 ? "-" : "+", human);
}

nlohmann::json optional_json(std::optional<uint64_t> value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json uint_array(const std::vector<uint64_t>& values) {
    nlohmann::json list = nlohmann::json::array();
    for (const uint64_t v : values)
        list.push_back(v);
    return list;
}

nlohmann::json to_json(const Analysis& a, const growth::SiteCatalog& catalog, size_t shown,
                       const GrowthReportOptions& options) {
    nlohmann::json snapshots = nlohmann::json::array();
    for (size_t i = 0; i < a.considered.size(); ++i) {
        const growth::SnapshotListing& listing = a.listings[a.considered[i]];
        snapshots.push_back(
            {{"number", a.considered[i] + 1},
             {"label", listing.label},
             {"trigger", listing.trigger},
             {"time_s", listing.time_s},
             {"live_bytes", a.states[i].total.bytes},
             {"live_blocks", a.states[i].total.blocks},
             {"rss_bytes", optional_json(growth::rss_at_snapshot(a.reader, a.considered[i]))}});
    }
    nlohmann::json sites = nlohmann::json::array();
    for (size_t rank = 0; rank < shown; ++rank) {
        const growth::SiteGrowth& g = a.ranking.steady[rank];
        const growth::CatalogSite& site = catalog.sites()[a.series_site[g.site]];
        nlohmann::json entry = {
            {"rank", rank + 1},
            {"bytes_per_second", g.bytes_per_second},
            {"bytes_per_snapshot", g.bytes_per_snapshot},
            {"blocks_per_snapshot", g.blocks_per_snapshot},
            {"r2", g.r2},
            {"r2_snapshots", g.r2_snapshots},
            {"share", g.share},
            {"first_bytes", g.first_bytes},
            {"last_bytes", g.last_bytes},
            {"first_blocks", g.first_blocks},
            {"last_blocks", g.last_blocks},
            {"net_bytes", g.net_bytes},
            {"net_blocks", g.net_blocks},
            {"rises", g.rises},
            {"stack_ids", site.stack_ids},
            {"truncated", site.truncated},
            {"frames", frames_json(site.frames)},
        };
        if (options.series) {
            entry["bytes_series"] = uint_array(a.series[g.site].bytes);
            entry["blocks_series"] = uint_array(a.series[g.site].blocks);
        }
        sites.push_back(std::move(entry));
    }
    const growth::HeapState& first = a.states.front();
    const growth::HeapState& last = a.states.back();
    return {
        {"schema_version", kJsonSchemaVersion},
        {"format_version", a.reader.header().format_version},
        {"program", program_name(a.reader)},
        {"exe", a.reader.process().exe_path},
        {"pid", a.reader.header().pid},
        {"complete", a.reader.complete()},
        {"estimated", a.reader.sampled()},
        {"rule", {{"min_r2", a.min_r2}, {"with_exit", options.with_exit}}},
        {"snapshots", std::move(snapshots)},
        {"duration_s", a.times_s.back() - a.times_s.front()},
        {"net_bytes",
         static_cast<int64_t>(last.total.bytes) - static_cast<int64_t>(first.total.bytes)},
        {"net_blocks",
         static_cast<int64_t>(last.total.blocks) - static_cast<int64_t>(first.total.blocks)},
        {"positive_growth_bytes", a.ranking.positive_growth},
        {"unsteady_sites", a.ranking.unsteady},
        {"site_count", a.ranking.steady.size()},
        {"sites", std::move(sites)},
    };
}

void write_text(std::ostream& out, const Analysis& a, const growth::SiteCatalog& catalog,
                size_t shown) {
    const growth::HeapState& first = a.states.front();
    const growth::HeapState& last = a.states.back();
    const size_t n = a.considered.size();
    out << "Growth of " << printable(program_name(a.reader)) << " (pid " << a.reader.header().pid
        << ") over " << n << " snapshots, @" << a.considered.front() + 1 << " to @"
        << a.considered.back() + 1
        << fmt::format(" ({:.3f} s to {:.3f} s):\n", a.times_s.front(), a.times_s.back());
    if (a.reader.sampled()) out << "NOTE: a sampled dump: its figures are estimates.\n";
    out << "  live heap " << first.total.bytes << " -> " << last.total.bytes << " bytes ("
        << human_bytes(first.total.bytes) << " -> " << human_bytes(last.total.bytes) << "), "
        << first.total.blocks << " -> " << last.total.blocks << " blocks\n";
    const auto first_rss = growth::rss_at_snapshot(a.reader, a.considered.front());
    const auto last_rss = growth::rss_at_snapshot(a.reader, a.considered.back());
    if (first_rss && last_rss) {
        out << "  RSS " << *first_rss << " -> " << *last_rss << " bytes ("
            << human_bytes(*first_rss) << " -> " << human_bytes(*last_rss) << ")\n";
    }

    for (size_t rank = 0; rank < shown; ++rank) {
        const growth::SiteGrowth& g = a.ranking.steady[rank];
        const growth::CatalogSite& site = catalog.sites()[a.series_site[g.site]];
        out << '\n'
            << rank + 1 << ". " << rate(g.bytes_per_snapshot) << " per snapshot, "
            << rate(g.bytes_per_second) << " per second"
            << fmt::format(" (R\u00b2 {:.3f} over time, {:.3f} over snapshots), {:.1f}% of the "
                           "growth\n",
                           g.r2, g.r2_snapshots, g.share * 100)
            << "   " << g.first_bytes << " -> " << g.last_bytes << " bytes, " << g.first_blocks
            << " -> " << g.last_blocks << " blocks"
            << fmt::format(" ({:+.1f} blocks per snapshot); rose in {} of {} intervals\n",
                           g.blocks_per_snapshot, g.rises, n - 1);
        write_frames_text(out, a.reader, site.stack_ids.front(), site.frames, "    ");
    }
    if (a.ranking.steady.empty()) out << "\nNo site grew steadily.\n";
    if (shown < a.ranking.steady.size()) {
        out << "\n(" << a.ranking.steady.size() - shown
            << " more growing sites not shown; see --top)\n";
    }
    out << '\n'
        << a.ranking.steady.size() << (a.ranking.steady.size() == 1 ? " site" : " sites")
        << fmt::format(" grew steadily (positive slopes, R\u00b2 >= {:.2f} over time or over "
                       "snapshots, more live bytes at the last snapshot than at the first)",
                       a.min_r2);
    if (a.ranking.unsteady != 0) {
        out << "; " << a.ranking.unsteady
            << (a.ranking.unsteady == 1 ? " other site" : " other sites")
            << " grew without being steady";
    }
    out << ".\n";
}

} // namespace

void write_growth_report(const std::string& dump_argument, const GrowthReportOptions& options,
                         std::ostream& out) {
    const growth::DumpSpec dump = growth::parse_dump_spec(dump_argument);
    if (!dump.selector.empty()) {
        throw DumpError(fmt::format("{}: growth reads every snapshot of a dump; choose a range "
                                    "with --from and --to instead of '@{}'",
                                    dump_argument, dump.selector));
    }
    const DumpReader reader(dump.path);
    Analysis analysis(reader, options.min_r2);
    analysis.listings = growth::snapshot_listings(reader);
    analysis.considered = considered_snapshots(reader, dump, analysis.listings, options);
    growth::SiteCatalog catalog(reader);
    analyse(analysis, catalog);
    const size_t steady = analysis.ranking.steady.size();
    const size_t shown = options.top == 0 ? steady : std::min(options.top, steady);
    if (options.json) {
        out << dump_json(to_json(analysis, catalog, shown, options)) << '\n';
    } else {
        write_text(out, analysis, catalog, shown);
    }
}

} // namespace memtrace::reports
