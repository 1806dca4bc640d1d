#include "gate/gate_reports.h"
#include "reports/dump_facts.h"
#include "reports/stack_frames.h"

namespace memtrace::gate {
namespace {

nlohmann::json totals_json(const Totals& totals) {
    return {{"bytes", totals.bytes}, {"blocks", totals.blocks}, {"sites", totals.sites}};
}

} // namespace

nlohmann::json to_json(const GateVerdict& verdict) {
    nlohmann::json rules = nlohmann::json::array();
    for (const RuleVerdict& rule : verdict.rules) {
        rules.push_back({{"id", rule.id},
                         {"name", rule.name},
                         {"passed", rule.passed},
                         {"measured", rule.measured},
                         {"limit", rule.limit},
                         {"summary", rule.summary}});
    }
    nlohmann::json sites = nlohmann::json::array();
    for (const GateSite& site : verdict.sites) {
        nlohmann::json suppression = nullptr;
        if (site.suppressed_by) {
            suppression = {{"rule", describe_rule(*site.suppressed_by)},
                           {"reason", site.suppressed_by->reason},
                           {"origin", site.suppressed_by->origin}};
        }
        sites.push_back({{"kind", leak_kind_name(site.kind)},
                         {"stack_id", site.stack_id},
                         {"bytes", site.bytes},
                         {"count", site.blocks},
                         {"counted", site.counted},
                         {"suppressed", std::move(suppression)},
                         {"truncated", site.truncated},
                         {"frames", reports::frames_json(site.frames)}});
    }
    nlohmann::json baseline = nullptr;
    if (verdict.baseline_peak_bytes) {
        baseline = {{"dump", verdict.baseline_path}, {"peak_bytes", *verdict.baseline_peak_bytes}};
    }
    return {
        {"schema_version", reports::kJsonSchemaVersion},
        {"passed", verdict.passed()},
        {"dump", verdict.dump_path},
        {"program", verdict.program},
        {"exe", verdict.exe},
        {"pid", verdict.pid},
        {"complete", verdict.complete},
        {"scanned", verdict.scanned},
        {"estimated", verdict.sampled},
        {"counted_kinds", verdict.counted_kinds},
        {"rules", std::move(rules)},
        {"counted", totals_json(verdict.counted)},
        {"suppressed", totals_json(verdict.suppressed)},
        {"reachable", totals_json(verdict.reachable)},
        {"suppression_rules", verdict.suppression_rule_count},
        {"peak_bytes", verdict.peak_bytes},
        {"baseline", std::move(baseline)},
        {"sites", std::move(sites)},
    };
}

} // namespace memtrace::gate
