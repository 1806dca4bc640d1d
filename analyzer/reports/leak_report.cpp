#include "reports/leak_report.h"

#include "reports/dump_facts.h"
#include "reports/stack_frames.h"
#include "symbol_cache.h"
#include "symbolizer.h"

#include <algorithm>

namespace memtrace::reports {
namespace {

const char* scan_status_name(const LeakScanResult& scan) {
    if (!scan.present) return "none";
    switch (scan.status) {
    case format::LeakScanStatus::Complete:
        return "complete";
    case format::LeakScanStatus::Skipped:
        return "skipped";
    case format::LeakScanStatus::Failed:
        return "failed";
    }
    return "failed";
}

const char* kind_heading(LeakKind kind) {
    switch (kind) {
    case LeakKind::Definite:
        return "definitely lost";
    case LeakKind::Indirect:
        return "indirectly lost";
    case LeakKind::Reachable:
        return "still reachable";
    case LeakKind::Live:
        break;
    }
    return "live";
}

void write_text(std::ostream& out, const DumpReader& reader, const LeakClassification& leaks,
                const LeakReportOptions& options, Symbolizer& symbolizer) {
    out << "Leaks of " << printable(program_name(reader)) << " (pid " << reader.header().pid
        << "), which " << describe_end(reader.header()) << ".\n";
    out << scan_description(reader, leaks) << '\n';
    out << incompleteness_notes(reader);
    if (reader.sampled()) {
        out << "NOTE: sampled dump (one allocation recorded per " << reader.sample_bytes()
            << " bytes on average): the bytes and blocks below are estimates.\n";
    }
    std::vector<const KindedSite*> shown;
    for (const KindedSite& site : leaks.sites) {
        if (shown_in_text(site.kind, options.all)) shown.push_back(&site);
    }
    const size_t limit = options.top == 0 ? shown.size() : std::min(options.top, shown.size());
    for (size_t i = 0; i < limit; ++i) {
        const KindedSite& site = *shown[i];
        out << '\n'
            << site.bytes << " bytes (" << human_bytes(site.bytes) << ") in " << site.blocks
            << (site.blocks == 1 ? " block " : " blocks ") << kind_heading(site.kind)
            << ", allocated from stack #" << site.stack_id << ":\n";
        write_frames_text(out, reader, site.stack_id,
                          symbolize_stack(symbolizer, reader, site.stack_id), "    ");
    }
    if (limit < shown.size()) {
        out << "\n(" << shown.size() - limit << " smaller sites not shown; see --top)\n";
    }
    uint64_t total_bytes = 0;
    uint64_t total_blocks = 0;
    for (const KindTotals& total : leaks.totals) {
        total_bytes += total.bytes;
        total_blocks += total.blocks;
    }
    out << (reader.sampled() ? "\nTotal (estimated): " : "\nTotal: ") << total_bytes << " bytes ("
        << human_bytes(total_bytes) << ") in " << total_blocks << " blocks from "
        << leaks.sites.size() << " allocation sites"
        << (reader.complete() ? " still live at exit.\n" : " live when the dump ends.\n");
    std::string by_kind;
    for (size_t i = 0; i < kLeakKindCount; ++i) {
        const auto kind = static_cast<LeakKind>(i);
        const KindTotals& total = leaks.total(kind);
        if (total.blocks == 0) continue;
        by_kind += (by_kind.empty() ? "" : "; ") + std::string(kind_heading(kind)) + " " +
                   std::to_string(total.bytes) + " bytes in " + std::to_string(total.blocks) +
                   (total.blocks == 1 ? " block" : " blocks");
    }
    if (!by_kind.empty()) out << "By kind: " << by_kind << ".\n";
    const KindTotals& reachable = leaks.total(LeakKind::Reachable);
    if (!options.all && reachable.sites != 0) {
        out << "(still reachable sites are not listed; --all lists them)\n";
    }
}

nlohmann::json to_json(const DumpReader& reader, const HeapModel& model,
                       const LeakClassification& leaks, size_t shown, Symbolizer& symbolizer) {
    nlohmann::json site_list = nlohmann::json::array();
    for (size_t i = 0; i < shown; ++i) {
        const KindedSite& site = leaks.sites[i];
        const StackTrace* stack = reader.find_stack(site.stack_id);
        site_list.push_back({
            {"kind", leak_kind_name(site.kind)},
            {"stack_id", site.stack_id},
            {"bytes", site.bytes},
            {"count", site.blocks},
            {"truncated", stack != nullptr && stack->truncated},
            {"frames", frames_json(symbolize_stack(symbolizer, reader, site.stack_id))},
        });
    }
    return {
        {"schema_version", kJsonSchemaVersion},
        {"format_version", reader.header().format_version},
        {"program", program_name(reader)},
        {"exe", reader.process().exe_path},
        {"pid", reader.header().pid},
        {"complete", reader.complete()},
        {"cut_short", reader.cut_short()},
        {"end", end_json(reader.header())},
        {"flags", flags_json(reader.header())},
        {"estimated", model.sampled()},
        {"sample_bytes", reader.sample_bytes()},
        {"scan", scan_json(reader)},
        {"kinds", kind_totals_json(leaks)},
        {"total_bytes", model.live_bytes()},
        {"total_blocks", model.live_block_count()},
        {"site_count", leaks.sites.size()},
        {"sites", std::move(site_list)},
    };
}

} // namespace

std::vector<LeakSite> leak_sites(const HeapModel& model) {
    std::vector<LeakSite> sites;
    model.for_each_stack([&sites](uint32_t stack_id, const StackStats& stats) {
        if (stats.live_blocks != 0)
            sites.push_back({stack_id, stats.live_bytes, stats.live_blocks});
    });
    std::sort(sites.begin(), sites.end(), [](const LeakSite& a, const LeakSite& b) {
        if (a.bytes != b.bytes) return a.bytes > b.bytes;
        if (a.blocks != b.blocks) return a.blocks > b.blocks;
        return a.stack_id < b.stack_id;
    });
    return sites;
}

bool shown_in_text(LeakKind kind, bool all) {
    return all || kind != LeakKind::Reachable;
}

nlohmann::json scan_json(const DumpReader& reader) {
    const LeakScanResult& scan = reader.leak_scan();
    nlohmann::json json = {{"status", scan_status_name(scan)}};
    if (!scan.present) return json;
    json["time_s"] = seconds_between(reader.header().start_monotonic_ns, scan.time_ns);
    json["scan_s"] = static_cast<double>(scan.scan_ns) / 1e9;
    json["live_blocks"] = scan.live_blocks;
    json["definite_blocks"] = scan.definite_blocks;
    json["indirect_blocks"] = scan.indirect_blocks;
    json["reachable_blocks"] = scan.reachable_blocks;
    return json;
}

nlohmann::json kind_totals_json(const LeakClassification& leaks) {
    nlohmann::json json = nlohmann::json::object();
    for (size_t i = 0; i < kLeakKindCount; ++i) {
        const auto kind = static_cast<LeakKind>(i);
        const KindTotals& total = leaks.total(kind);
        json[leak_kind_name(kind)] = {
            {"bytes", total.bytes}, {"blocks", total.blocks}, {"sites", total.sites}};
    }
    return json;
}

std::string scan_description(const DumpReader& reader, const LeakClassification& leaks) {
    const LeakScanResult& scan = reader.leak_scan();
    if (leaks.scanned) {
        return "A reachability scan ran at exit: blocks are definitely lost, indirectly lost "
               "(reachable only from lost blocks) or still reachable; blocks allocated after the "
               "scan are shown as live.";
    }
    if (scan.present) {
        return std::string("The reachability scan ") +
               (scan.status == format::LeakScanStatus::Failed ? "failed" : "was skipped") +
               ", so every block still allocated is shown as live (lost or reachable: unknown).";
    }
    return "No reachability scan is in this dump (the process crashed or was killed, the dump is "
           "sampled, or it was written by an older memtrace), so every block still allocated is "
           "shown as live.";
}

void write_leak_report(const std::string& dump_path, const LeakReportOptions& options,
                       std::ostream& out) {
    const DumpReader reader(dump_path);
    HeapModel model = replay(reader);
    const LeakClassification leaks = classify_leaks(model, reader.leak_scan());
    // Symbolizing loads debug information: the replay's tables go first, so that the peak of
    // memory is the larger of the two rather than their sum.
    model.drop_blocks();
    Symbolizer symbolizer(reader.modules(), SymbolCache::default_dir());
    if (options.json) {
        const size_t shown =
            options.top == 0 ? leaks.sites.size() : std::min(options.top, leaks.sites.size());
        out << dump_json(to_json(reader, model, leaks, shown, symbolizer)) << '\n';
    } else {
        write_text(out, reader, leaks, options, symbolizer);
    }
}

} // namespace memtrace::reports
