#include "gate/gate.h"

#include "dump_reader.h"
#include "heap_model.h"
#include "reports/dump_facts.h"
#include "reports/leak_report.h"
#include "reports/stack_frames.h"
#include "suppressions/default_suppressions.h"
#include "symbol_cache.h"

#include <cmath>
#include <spdlog/fmt/fmt.h>

namespace memtrace::gate {
namespace {

std::string kinds_breakdown(const GateVerdict& verdict, bool bytes) {
    uint64_t per_kind[kLeakKindCount] = {};
    for (const GateSite& site : verdict.sites) {
        if (site.counted)
            per_kind[static_cast<size_t>(site.kind)] += bytes ? site.bytes : site.blocks;
    }
    std::string text;
    for (size_t i = 0; i < kLeakKindCount; ++i) {
        if (per_kind[i] == 0) continue;
        text += (text.empty() ? "" : ", ") + std::string(leak_kind_name(static_cast<LeakKind>(i))) +
                " " + std::to_string(per_kind[i]);
    }
    return text.empty() ? "" : " (" + text + ")";
}

RuleVerdict leak_rule(const GateVerdict& verdict, bool bytes, uint64_t limit) {
    RuleVerdict rule;
    rule.id = bytes ? "leaked-bytes" : "leaked-blocks";
    rule.name = bytes ? "leaked bytes" : "leaked blocks";
    const uint64_t measured = bytes ? verdict.counted.bytes : verdict.counted.blocks;
    rule.measured = static_cast<int64_t>(measured);
    rule.limit = limit;
    rule.passed = measured <= limit;
    rule.summary = fmt::format("{} {} {} {} allowed{}", measured, rule.name,
                               rule.passed ? "<=" : ">", limit, kinds_breakdown(verdict, bytes));
    return rule;
}

RuleVerdict peak_rule(const GateVerdict& verdict, uint64_t limit) {
    RuleVerdict rule;
    rule.id = "peak";
    rule.name = "peak live heap";
    rule.measured = static_cast<int64_t>(verdict.peak_bytes);
    rule.limit = limit;
    rule.passed = verdict.peak_bytes <= limit;
    rule.summary = fmt::format("peak live heap {} {} {} allowed", amount(verdict.peak_bytes),
                               rule.passed ? "<=" : ">", amount(limit));
    return rule;
}

RuleVerdict growth_rule(const GateVerdict& verdict, const GrowthLimit& limit) {
    RuleVerdict rule;
    rule.id = "growth";
    rule.name = "peak growth over the baseline";
    const uint64_t baseline = verdict.baseline_peak_bytes.value_or(0);
    const int64_t growth =
        static_cast<int64_t>(verdict.peak_bytes) - static_cast<int64_t>(baseline);
    uint64_t allowed = limit.bytes;
    std::string allowed_text;
    if (limit.percent) {
        allowed = static_cast<uint64_t>(
            std::floor(static_cast<double>(baseline) * *limit.percent / 100.0));
        allowed_text =
            fmt::format("{} ({}% of the baseline's peak)", amount(allowed), *limit.percent);
    } else {
        allowed_text = amount(allowed);
    }
    rule.measured = growth;
    rule.limit = allowed;
    rule.passed = growth <= static_cast<int64_t>(allowed);
    rule.summary = fmt::format("peak live heap {} vs baseline {}: growth {}{} bytes {} {} allowed",
                               amount(verdict.peak_bytes), amount(baseline), growth >= 0 ? "+" : "",
                               growth, rule.passed ? "<=" : ">", allowed_text);
    return rule;
}

} // namespace

bool GateVerdict::passed() const {
    for (const RuleVerdict& rule : rules) {
        if (!rule.passed) return false;
    }
    return true;
}

bool kind_counts(LeakKind kind, bool include_reachable) {
    return kind != LeakKind::Reachable || include_reachable;
}

std::string amount(uint64_t bytes) {
    return bytes < 1024 ? fmt::format("{} bytes", bytes)
                        : fmt::format("{} bytes ({})", bytes, reports::human_bytes(bytes));
}

SuppressionSet load_suppressions(const GateRules& rules) {
    SuppressionSet set;
    if (rules.default_suppressions) set.add_text(kDefaultSuppressions, kDefaultSuppressionsName);
    for (const std::string& file : rules.suppression_files)
        set.add_file(file);
    return set;
}

GateVerdict evaluate(const std::string& dump_path, const GateRules& rules) {
    const SuppressionSet suppressions = load_suppressions(rules);
    const DumpReader reader(dump_path);
    const HeapModel model = replay(reader);
    const LeakClassification leaks = classify_leaks(model, reader.leak_scan());

    GateVerdict verdict;
    verdict.dump_path = dump_path;
    verdict.program = reports::program_name(reader);
    verdict.exe = reader.process().exe_path;
    verdict.pid = static_cast<int>(reader.header().pid);
    verdict.end = reports::describe_end(reader.header());
    verdict.complete = reader.complete();
    verdict.scanned = leaks.scanned;
    verdict.sampled = reader.sampled();
    verdict.scan_note = reports::scan_description(reader, leaks);
    verdict.peak_bytes = model.peak_bytes();
    verdict.suppression_rule_count = suppressions.rules().size();
    for (size_t i = 0; i < kLeakKindCount; ++i) {
        const auto kind = static_cast<LeakKind>(i);
        if (kind_counts(kind, rules.include_reachable))
            verdict.counted_kinds.push_back(leak_kind_name(kind));
    }

    Symbolizer symbolizer(reader.modules(), SymbolCache::default_dir());
    for (const KindedSite& kinded : leaks.sites) {
        GateSite site;
        site.stack_id = kinded.stack_id;
        site.kind = kinded.kind;
        site.bytes = kinded.bytes;
        site.blocks = kinded.blocks;
        const StackTrace* stack = reader.find_stack(kinded.stack_id);
        site.truncated = stack != nullptr && stack->truncated;
        site.frames = reports::symbolize_stack(symbolizer, reader, kinded.stack_id);
        // Reachable blocks that do not count are not leaks: nothing to suppress.
        const bool counts = kind_counts(site.kind, rules.include_reachable);
        if (counts) {
            if (const SuppressionRule* rule = suppressions.match(site.frames))
                site.suppressed_by = *rule;
        }
        site.counted = counts && !site.suppressed_by;
        Totals& totals = site.counted         ? verdict.counted
                         : site.suppressed_by ? verdict.suppressed
                                              : verdict.reachable;
        totals.bytes += site.bytes;
        totals.blocks += site.blocks;
        totals.sites += 1;
        verdict.sites.push_back(std::move(site));
    }

    if (rules.max_growth) {
        const DumpReader baseline(rules.baseline);
        verdict.baseline_path = rules.baseline;
        verdict.baseline_peak_bytes = replay(baseline).peak_bytes();
    }

    const bool leak_rule_given = rules.max_leaked_bytes || rules.max_leaked_blocks;
    if (rules.max_leaked_bytes)
        verdict.rules.push_back(leak_rule(verdict, true, *rules.max_leaked_bytes));
    if (rules.max_leaked_blocks || !leak_rule_given)
        verdict.rules.push_back(leak_rule(verdict, false, rules.max_leaked_blocks.value_or(0)));
    if (rules.max_peak) verdict.rules.push_back(peak_rule(verdict, *rules.max_peak));
    if (rules.max_growth) verdict.rules.push_back(growth_rule(verdict, *rules.max_growth));
    return verdict;
}

} // namespace memtrace::gate
