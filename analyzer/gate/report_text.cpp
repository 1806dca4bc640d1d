#include "gate/gate_reports.h"
#include "gate/user_frame.h"
#include "reports/dump_facts.h"

#include <algorithm>

namespace memtrace::gate {
namespace {

std::string blocks_text(uint64_t blocks) {
    return std::to_string(blocks) + (blocks == 1 ? " block" : " blocks");
}

std::string totals_text(const Totals& totals) {
    return amount(totals.bytes) + " in " + blocks_text(totals.blocks) + " from " +
           std::to_string(totals.sites) + (totals.sites == 1 ? " site" : " sites");
}

void write_frames(std::ostream& out, const GateSite& site, size_t max_frames) {
    size_t index = 0;
    for (const SymbolizedFrame& frame : site.frames) {
        if (index == max_frames) {
            out << "      ... " << site.frames.size() - max_frames
                << " more frames (--json has them all)\n";
            return;
        }
        out << "      #" << index++ << ' ' << reports::printable(frame_label(frame));
        if (frame.inlined) out << " [inlined]";
        out << '\n';
    }
    if (site.frames.empty()) out << "      (no stack recorded)\n";
    if (site.truncated) out << "      ... (stack truncated; raise --depth to see more)\n";
}

} // namespace

void write_text(std::ostream& out, const GateVerdict& verdict, const ReportSettings& settings) {
    out << "memtrace check: " << (verdict.passed() ? "PASSED" : "FAILED") << ": "
        << reports::printable(verdict.program) << " (pid " << verdict.pid << ") " << verdict.end
        << "\n";
    for (const RuleVerdict& rule : verdict.rules) {
        out << "  " << (rule.passed ? "pass" : "FAIL") << "  " << rule.id << ": " << rule.summary
            << '\n';
    }
    out << verdict.scan_note << '\n';
    if (verdict.sampled) {
        out << "NOTE: sampled dump: leaked and peak figures are estimates.\n";
    }
    if (!verdict.complete) {
        out << "NOTE: the process did not end cleanly; blocks counted as leaks may have been "
               "freed later.\n";
    }

    std::string kinds;
    for (const std::string& kind : verdict.counted_kinds)
        kinds += (kinds.empty() ? "" : ", ") + kind;
    out << "\nLeaks counted (" << kinds << "): " << totals_text(verdict.counted) << '\n';
    size_t listed = 0;
    for (const GateSite& site : verdict.sites) {
        if (!site.counted) continue;
        if (listed++ == settings.top) {
            out << "  ... " << verdict.counted.sites - settings.top
                << " smaller sites not shown (--top, or --json for all)\n";
            break;
        }
        out << "  " << amount(site.bytes) << " in " << blocks_text(site.blocks) << ", "
            << leak_kind_name(site.kind) << ", from stack #" << site.stack_id << ":\n";
        write_frames(out, site, settings.max_frames);
    }

    out << "Suppressed: " << totals_text(verdict.suppressed) << " ("
        << verdict.suppression_rule_count << " rules loaded)\n";
    listed = 0;
    for (const GateSite& site : verdict.sites) {
        if (!site.suppressed_by) continue;
        if (listed++ == settings.top) {
            out << "  ... " << verdict.suppressed.sites - settings.top
                << " more suppressed sites (--json lists them all)\n";
            break;
        }
        const SuppressionRule& rule = *site.suppressed_by;
        const SymbolizedFrame* where = first_user_frame(site.frames);
        out << "  " << amount(site.bytes) << " in " << blocks_text(site.blocks) << ", "
            << leak_kind_name(site.kind) << ", at "
            << (where ? reports::printable(frame_label(*where)) : std::string("?")) << "\n      by "
            << reports::printable(describe_rule(rule)) << " (" << rule.origin
            << (rule.reason.empty() ? "" : ": " + reports::printable(rule.reason)) << ")\n";
    }
    if (verdict.reachable.sites != 0) {
        out << "Still reachable, not counted (--include-reachable counts them): "
            << totals_text(verdict.reachable) << '\n';
    }
}

} // namespace memtrace::gate
