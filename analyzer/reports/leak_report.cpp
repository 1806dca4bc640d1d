#include "reports/leak_report.h"

#include "reports/dump_facts.h"
#include "reports/stack_frames.h"
#include "symbolizer.h"

#include <algorithm>

namespace memtrace::reports {
namespace {

void write_text(std::ostream& out, const DumpReader& reader, const HeapModel& model,
                const std::vector<LeakSite>& sites, size_t shown, Symbolizer& symbolizer) {
    out << "Leaks of " << printable(program_name(reader)) << " (pid " << reader.header().pid
        << "), which " << describe_end(reader.header()) << ".\n";
    out << incompleteness_notes(reader);
    if (model.sampled()) {
        out << "NOTE: sampled dump (one allocation recorded per " << reader.sample_bytes()
            << " bytes on average): the bytes and blocks below are estimates.\n";
    }
    for (size_t i = 0; i < shown; ++i) {
        const LeakSite& site = sites[i];
        out << '\n'
            << site.bytes << " bytes (" << human_bytes(site.bytes) << ") in " << site.blocks
            << (site.blocks == 1 ? " block" : " blocks") << " allocated from stack #"
            << site.stack_id << ":\n";
        write_frames_text(out, reader, site.stack_id,
                          symbolize_stack(symbolizer, reader, site.stack_id), "    ");
    }
    if (shown < sites.size()) {
        out << "\n(" << sites.size() - shown << " smaller sites not shown; see --top)\n";
    }
    out << (model.sampled() ? "\nTotal (estimated): " : "\nTotal: ") << model.live_bytes()
        << " bytes (" << human_bytes(model.live_bytes()) << ") in " << model.live_block_count()
        << " blocks from " << sites.size() << " allocation sites"
        << (reader.complete() ? " still live at exit.\n" : " live when the dump ends.\n");
}

nlohmann::json to_json(const DumpReader& reader, const HeapModel& model,
                       const std::vector<LeakSite>& sites, size_t shown, Symbolizer& symbolizer) {
    nlohmann::json site_list = nlohmann::json::array();
    for (size_t i = 0; i < shown; ++i) {
        const LeakSite& site = sites[i];
        const StackTrace* stack = reader.find_stack(site.stack_id);
        site_list.push_back({
            {"kind", "live"},
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
        {"total_bytes", model.live_bytes()},
        {"total_blocks", model.live_block_count()},
        {"site_count", sites.size()},
        {"sites", std::move(site_list)},
    };
}

} // namespace

std::vector<LeakSite> leak_sites(const HeapModel& model) {
    std::vector<LeakSite> sites;
    for (const auto& [stack_id, stats] : model.stack_stats()) {
        if (stats.live_blocks != 0)
            sites.push_back({stack_id, stats.live_bytes, stats.live_blocks});
    }
    std::sort(sites.begin(), sites.end(), [](const LeakSite& a, const LeakSite& b) {
        if (a.bytes != b.bytes) return a.bytes > b.bytes;
        if (a.blocks != b.blocks) return a.blocks > b.blocks;
        return a.stack_id < b.stack_id;
    });
    return sites;
}

void write_leak_report(const std::string& dump_path, const LeakReportOptions& options,
                       std::ostream& out) {
    const DumpReader reader(dump_path);
    const HeapModel model = replay(reader);
    const std::vector<LeakSite> sites = leak_sites(model);
    const size_t shown = options.top == 0 ? sites.size() : std::min(options.top, sites.size());
    Symbolizer symbolizer(reader.modules());
    if (options.json) {
        out << dump_json(to_json(reader, model, sites, shown, symbolizer)) << '\n';
    } else {
        write_text(out, reader, model, sites, shown, symbolizer);
    }
}

} // namespace memtrace::reports
