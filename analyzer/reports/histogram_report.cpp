#include "reports/histogram_report.h"

#include "growth/dump_selection.h"
#include "growth/heap_states.h"
#include "memory/checkpoint_replay.h"
#include "memory/size_histogram.h"
#include "reports/dump_facts.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <spdlog/fmt/fmt.h>

namespace memtrace::reports {
namespace {

namespace m = memtrace::memory;

// The totals recorded with snapshot i: the first SizeClassTotals at or after it and before the
// next snapshot.
const SizeClassSample* totals_of_snapshot(const DumpReader& reader, size_t i) {
    const auto& snapshots = reader.snapshots();
    const uint64_t from = snapshots[i].time_ns;
    const uint64_t until = i + 1 < snapshots.size() ? snapshots[i + 1].time_ns : UINT64_MAX;
    for (const SizeClassSample& sample : reader.size_class_samples())
        if (sample.time_ns >= from && sample.time_ns < until) return &sample;
    return nullptr;
}

struct Histogram {
    std::optional<size_t> snapshot;
    m::SizeHistogram histogram;
    std::optional<uint64_t> counts_time_ns; // of the size-class totals used
};

Histogram build(const DumpReader& reader, const growth::DumpSpec& spec) {
    Histogram result;
    result.snapshot = growth::resolve_snapshot(spec, growth::snapshot_listings(reader));
    const SizeClassSample* totals = nullptr;
    std::vector<m::ClassLive> live;
    if (result.snapshot) {
        totals = totals_of_snapshot(reader, *result.snapshot);
        m::replay_with_checkpoints(
            reader, {reader.snapshots()[*result.snapshot].time_ns},
            [&live](size_t, const HeapModel& model) { live = m::live_by_class(model); });
    } else {
        if (!reader.size_class_samples().empty()) totals = &reader.size_class_samples().back();
        HeapModel model(reader.sample_bytes());
        reader.for_each_event_batch(
            [&model](std::span<const HeapEvent> events) { model.apply(events); });
        live = m::live_by_class(model);
    }
    result.histogram = m::make_histogram(totals ? &totals->classes : nullptr, live);
    if (totals != nullptr) result.counts_time_ns = totals->time_ns;
    return result;
}

std::string class_label(const m::HistogramRow& row) {
    return fmt::format("({},{}]", row.min_size == 0 ? 0 : row.min_size - 1, row.max_size);
}

std::string moment(const DumpReader& reader, const Histogram& h) {
    if (!h.snapshot)
        return reader.complete() ? "whole run; live at exit" : "whole run; live at end";
    const SnapshotMark& mark = reader.snapshots()[*h.snapshot];
    std::string text = fmt::format("up to snapshot {}", *h.snapshot + 1);
    if (!mark.label.empty()) text += " '" + printable(mark.label) + "'";
    return text + fmt::format(", {:.3f} s after start",
                              seconds_between(reader.header().start_monotonic_ns, mark.time_ns));
}

void write_text(std::ostream& out, const DumpReader& reader, const Histogram& h) {
    const m::SizeHistogram& hist = h.histogram;
    out << "Size classes of " << printable(program_name(reader)) << " (pid " << reader.header().pid
        << "), " << moment(reader, h) << ":\n";
    out << incompleteness_notes(reader);
    out << fmt::format("  {:<18} {:>12} {:>14} {:>14} {:>12} {:>12} {:>14}\n", "size class",
                       "allocations", "requested", "usable", "waste", "live blocks", "live bytes");
    auto line = [&out](const std::string& label, uint64_t count, uint64_t requested,
                       uint64_t usable, uint64_t live_count, uint64_t live_bytes) {
        out << fmt::format("  {:<18} {:>12} {:>14} {:>14} {:>12} {:>12} {:>14}\n", label, count,
                           human_bytes(requested), human_bytes(usable),
                           human_bytes(usable > requested ? usable - requested : 0), live_count,
                           human_bytes(live_bytes));
    };
    for (const m::HistogramRow& row : hist.rows) {
        // A class with frees only (frees are classed by usable size) has nothing to show here.
        if (row.count == 0 && row.live.count == 0) continue;
        line(class_label(row), row.count, row.requested_bytes, row.usable_bytes, row.live.count,
             row.live.bytes);
    }
    line("total", hist.count(), hist.requested_bytes(), hist.usable_bytes(), hist.live_count(),
         hist.live_bytes());
    if (!hist.has_totals) {
        out << "NOTE: the dump has no size-class totals (written by an older memtrace, or the "
               "process ended before writing them): only the live columns are known.\n";
    }
    if (hist.has_totals && !h.snapshot && !reader.complete()) {
        out << fmt::format("NOTE: the process did not end cleanly: the counts are those of the "
                           "last size-class totals in the dump, {:.3f} s after start.\n",
                           seconds_between(reader.header().start_monotonic_ns, *h.counts_time_ns));
    }
    if (reader.sampled()) {
        out << "NOTE: sampled dump (one sample per " << reader.sample_bytes()
            << " bytes): allocations, requested and usable bytes count every allocation; the "
               "live columns are estimates from the sampled blocks.\n";
    }
}

nlohmann::json to_json(const DumpReader& reader, const Histogram& h) {
    const m::SizeHistogram& hist = h.histogram;
    nlohmann::json classes = nlohmann::json::array();
    for (const m::HistogramRow& row : hist.rows) {
        classes.push_back({
            {"min_size", row.min_size},
            {"max_size", row.max_size},
            {"count", row.count},
            {"requested_bytes", row.requested_bytes},
            {"usable_bytes", row.usable_bytes},
            {"waste_bytes", row.waste_bytes()},
            {"live_count", row.live.count},
            {"live_bytes", row.live.bytes},
            {"free_count", row.free_count},
            {"freed_usable_bytes", row.freed_usable_bytes},
        });
    }
    nlohmann::json snapshot;
    if (h.snapshot) {
        const SnapshotMark& mark = reader.snapshots()[*h.snapshot];
        snapshot = {{"number", *h.snapshot + 1},
                    {"label", mark.label},
                    {"trigger", growth::trigger_name(mark.trigger)},
                    {"time_s", seconds_between(reader.header().start_monotonic_ns, mark.time_ns)}};
    }
    return {
        {"schema_version", kJsonSchemaVersion},
        {"program", program_name(reader)},
        {"pid", reader.header().pid},
        {"complete", reader.complete()},
        {"snapshot", snapshot},
        {"sampled", reader.sampled()},
        {"sample_bytes", reader.sample_bytes()},
        {"has_totals", hist.has_totals},
        {"counts_time_s", h.counts_time_ns
                              ? nlohmann::json(seconds_between(reader.header().start_monotonic_ns,
                                                               *h.counts_time_ns))
                              : nlohmann::json()},
        {"classes", classes},
        {"totals",
         {{"count", hist.count()},
          {"requested_bytes", hist.requested_bytes()},
          {"usable_bytes", hist.usable_bytes()},
          {"waste_bytes", hist.usable_bytes() > hist.requested_bytes()
                              ? hist.usable_bytes() - hist.requested_bytes()
                              : 0},
          {"live_count", hist.live_count()},
          {"live_bytes", hist.live_bytes()}}},
    };
}

} // namespace

void write_histogram_report(const std::string& dump_argument, const HistogramOptions& options,
                            std::ostream& out) {
    const growth::DumpSpec spec = growth::parse_dump_spec(dump_argument);
    const DumpReader reader(spec.path);
    const Histogram histogram = build(reader, spec);
    if (options.json) {
        out << dump_json(to_json(reader, histogram)) << '\n';
    } else {
        write_text(out, reader, histogram);
    }
}

} // namespace memtrace::reports
