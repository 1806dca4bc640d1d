#include "reports/summary_report.h"

#include "memory/checkpoint_replay.h"
#include "reports/doctor_section.h"
#include "reports/dump_facts.h"
#include "reports/stack_frames.h"
#include "symbol_cache.h"
#include "symbolizer.h"

#include <algorithm>
#include <ctime>
#include <spdlog/fmt/fmt.h>

namespace memtrace::reports {
namespace {

template <typename Before>
std::vector<AllocationSite> top_sites(const HeapModel& model, size_t limit, Before before) {
    std::vector<AllocationSite> sites;
    model.for_each_stack([&sites](uint32_t stack_id, const StackStats& stats) {
        if (stats.allocations != 0) sites.push_back({stack_id, stats});
    });
    const size_t kept = std::min(limit, sites.size());
    std::partial_sort(sites.begin(), sites.begin() + static_cast<ptrdiff_t>(kept), sites.end(),
                      before);
    sites.resize(kept);
    return sites;
}

std::string wall_clock(uint64_t realtime_ns) {
    const auto seconds = static_cast<time_t>(realtime_ns / 1'000'000'000);
    std::tm utc{};
    if (gmtime_r(&seconds, &utc) == nullptr) return "?";
    char text[64];
    if (std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", &utc) == 0) return "?";
    return text;
}

struct Summary {
    const DumpReader& reader;
    const HeapModel& model;
    std::vector<AllocationSite> by_bytes;
    std::vector<AllocationSite> by_count;
    const memory::Diagnosis& doctor;
};

double duration_s(const DumpReader& reader) {
    return seconds_between(reader.header().start_monotonic_ns, reader.end_time_ns());
}

double peak_time_s(const Summary& summary) {
    if (summary.model.peak_bytes() == 0) return 0.0;
    return seconds_between(summary.reader.header().start_monotonic_ns,
                           summary.model.peak_time_ns());
}

void write_sites_text(std::ostream& out, const Summary& summary,
                      const std::vector<AllocationSite>& sites, Symbolizer& symbolizer) {
    if (sites.empty()) out << "  (none)\n";
    size_t rank = 1;
    for (const AllocationSite& site : sites) {
        out << "  " << rank++ << ". " << site.stats.bytes_allocated << " bytes ("
            << human_bytes(site.stats.bytes_allocated) << ") in " << site.stats.allocations
            << (site.stats.allocations == 1 ? " allocation" : " allocations") << ", "
            << site.stats.live_bytes << " bytes still live; stack #" << site.stack_id << ":\n";
        write_frames_text(out, summary.reader, site.stack_id,
                          symbolize_stack(symbolizer, summary.reader, site.stack_id), "       ");
    }
}

void write_text(std::ostream& out, const Summary& summary, Symbolizer& symbolizer) {
    const DumpReader& reader = summary.reader;
    const HeapModel& model = summary.model;
    const format::FileHeader& header = reader.header();
    std::string args;
    for (const std::string& arg : reader.process().argv) {
        if (!args.empty()) args += ' ';
        args += printable(arg);
    }

    out << "Program:        " << printable(program_name(reader));
    if (!reader.process().exe_path.empty())
        out << " (" << printable(reader.process().exe_path) << ')';
    out << "\nProcess:        pid " << header.pid << ", parent " << header.ppid
        << ((header.flags & format::kFlagForkChild) != 0 ? " (fork child)" : "") << '\n';
    out << "Arguments:      " << args << '\n';
    out << "Started:        " << wall_clock(header.start_realtime_ns) << '\n';
    out << "Duration:       " << fmt::format("{:.3f}", duration_s(reader)) << " s\n";
    out << "Ended:          " << describe_end(header) << '\n';
    out << "Threads:        " << reader.thread_count() << '\n';
    out << incompleteness_notes(reader);
    out << '\n';
    const HeapTotals& totals = model.totals();
    out << "Allocations:    " << totals.allocations << " (" << totals.bytes_allocated << " bytes, "
        << human_bytes(totals.bytes_allocated) << ")\n";
    out << "Frees:          " << totals.frees << '\n';
    out << "Peak live heap: " << model.peak_bytes() << " bytes (" << human_bytes(model.peak_bytes())
        << ") in " << model.peak_blocks() << " blocks, "
        << fmt::format("{:.3f}", peak_time_s(summary)) << " s after start\n";
    out << (reader.complete() ? "Leaked at exit: " : "Live at end:    ") << model.live_bytes()
        << " bytes (" << human_bytes(model.live_bytes()) << ") in " << model.live_block_count()
        << " blocks\n";
    if (totals.unknown_frees != 0 || totals.replaced_blocks != 0) {
        out << "Anomalies:      " << totals.unknown_frees << " frees of unknown addresses, "
            << totals.replaced_blocks << " allocations at already-live addresses\n";
    }
    out << "\nTop " << kTopSites << " allocation sites by bytes allocated:\n";
    write_sites_text(out, summary, summary.by_bytes, symbolizer);
    out << "\nTop " << kTopSites << " allocation sites by number of allocations:\n";
    write_sites_text(out, summary, summary.by_count, symbolizer);
    write_doctor_text(out, summary.doctor, reader, symbolizer);
}

nlohmann::json sites_json(const Summary& summary, const std::vector<AllocationSite>& sites,
                          Symbolizer& symbolizer) {
    nlohmann::json list = nlohmann::json::array();
    for (const AllocationSite& site : sites) {
        const StackTrace* stack = summary.reader.find_stack(site.stack_id);
        list.push_back({
            {"kind", "allocated"},
            {"stack_id", site.stack_id},
            {"bytes", site.stats.bytes_allocated},
            {"count", site.stats.allocations},
            {"live_bytes", site.stats.live_bytes},
            {"live_count", site.stats.live_blocks},
            {"truncated", stack != nullptr && stack->truncated},
            {"frames", frames_json(symbolize_stack(symbolizer, summary.reader, site.stack_id))},
        });
    }
    return list;
}

nlohmann::json to_json(const Summary& summary, Symbolizer& symbolizer) {
    const DumpReader& reader = summary.reader;
    const HeapModel& model = summary.model;
    const format::FileHeader& header = reader.header();
    const HeapTotals& totals = model.totals();
    return {
        {"schema_version", kJsonSchemaVersion},
        {"format_version", header.format_version},
        {"program", program_name(reader)},
        {"exe", reader.process().exe_path},
        {"argv", reader.process().argv},
        {"pid", header.pid},
        {"ppid", header.ppid},
        {"start_realtime_ns", header.start_realtime_ns},
        {"complete", reader.complete()},
        {"cut_short", reader.cut_short()},
        {"end", end_json(header)},
        {"flags", flags_json(header)},
        {"duration_s", duration_s(reader)},
        {"threads", reader.thread_count()},
        {"totals",
         {{"allocations", totals.allocations},
          {"frees", totals.frees},
          {"bytes_allocated", totals.bytes_allocated}}},
        {"anomalies",
         {{"unknown_frees", totals.unknown_frees}, {"replaced_blocks", totals.replaced_blocks}}},
        {"peak",
         {{"bytes", model.peak_bytes()},
          {"blocks", model.peak_blocks()},
          {"time_s", peak_time_s(summary)}}},
        {"leaked", {{"bytes", model.live_bytes()}, {"blocks", model.live_block_count()}}},
        {"top_by_bytes", sites_json(summary, summary.by_bytes, symbolizer)},
        {"top_by_count", sites_json(summary, summary.by_count, symbolizer)},
        {"doctor", doctor_json(summary.doctor, reader, symbolizer)},
    };
}

} // namespace

std::vector<AllocationSite> top_sites_by_bytes(const HeapModel& model, size_t limit) {
    return top_sites(model, limit, [](const AllocationSite& a, const AllocationSite& b) {
        if (a.stats.bytes_allocated != b.stats.bytes_allocated) {
            return a.stats.bytes_allocated > b.stats.bytes_allocated;
        }
        if (a.stats.allocations != b.stats.allocations) {
            return a.stats.allocations > b.stats.allocations;
        }
        return a.stack_id < b.stack_id;
    });
}

std::vector<AllocationSite> top_sites_by_count(const HeapModel& model, size_t limit) {
    return top_sites(model, limit, [](const AllocationSite& a, const AllocationSite& b) {
        if (a.stats.allocations != b.stats.allocations) {
            return a.stats.allocations > b.stats.allocations;
        }
        if (a.stats.bytes_allocated != b.stats.bytes_allocated) {
            return a.stats.bytes_allocated > b.stats.bytes_allocated;
        }
        return a.stack_id < b.stack_id;
    });
}

void write_summary_report(const std::string& dump_path, const SummaryReportOptions& options,
                          std::ostream& out) {
    const DumpReader reader(dump_path);
    // One pass over the events gives both the final heap and the heap at the doctor's sample.
    const auto samples = memory::pair_samples(reader.memory_samples(), reader.malloc_info_samples(),
                                              reader.size_class_samples());
    const memory::MemorySample* doctor_at = doctor_sample(samples);
    std::vector<uint64_t> checkpoints;
    if (doctor_at != nullptr) checkpoints.push_back(doctor_at->time_ns);
    HeapAtSample heap_at_sample;
    HeapModel model = memory::replay_with_checkpoints(
        reader, checkpoints,
        [&heap_at_sample](size_t, const HeapModel& at) { heap_at_sample = capture_heap(at); });
    const memory::Diagnosis doctor = diagnose_dump(reader, samples, heap_at_sample);
    const Summary summary{reader, model, top_sites_by_bytes(model, kTopSites),
                          top_sites_by_count(model, kTopSites), doctor};
    // Symbolizing loads debug information: the replay's tables go first, so that the peak of
    // memory is the larger of the two rather than their sum.
    model.drop_blocks();
    Symbolizer symbolizer(reader.modules(), SymbolCache::default_dir());
    if (options.json) {
        out << dump_json(to_json(summary, symbolizer)) << '\n';
    } else {
        write_text(out, summary, symbolizer);
    }
}

} // namespace memtrace::reports
