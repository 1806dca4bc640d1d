// The CI gate of `memtrace check` and `memtrace run --check`: rules over one dump (leaked bytes
// and blocks after suppressions, peak live heap, growth against a baseline dump), evaluated
// into a verdict that the text, JSON, JUnit, SARIF and GitHub writers turn into reports.
#pragma once

#include "leak_kinds.h"
#include "suppressions/suppressions.h"
#include "symbolizer.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace memtrace::gate {

// The default exit code of a failed gate: LeakSanitizer's, so CI scripts written for it keep
// working, and clear of 1 (error), 2 (usage) and 125-127 (launcher).
inline constexpr int kDefaultGateExitCode = 23;

// --max-growth: bytes, or a percentage of the baseline's peak.
struct GrowthLimit {
    uint64_t bytes = 0;
    std::optional<double> percent;
};

struct GateRules {
    std::optional<uint64_t> max_leaked_bytes;
    std::optional<uint64_t> max_leaked_blocks; // 0 when neither leak rule is given
    std::optional<uint64_t> max_peak;
    std::optional<GrowthLimit> max_growth;
    std::string baseline; // dump to compare with; required by max_growth
    bool include_reachable = false;
    std::vector<std::string> suppression_files;
    bool default_suppressions = true;
};

// One site of the final heap: a stack and a kind, with its frames and what the gate made of it.
struct GateSite {
    uint32_t stack_id = 0;
    LeakKind kind = LeakKind::Live;
    uint64_t bytes = 0;
    uint64_t blocks = 0;
    bool truncated = false;
    std::vector<SymbolizedFrame> frames;
    std::optional<SuppressionRule> suppressed_by;
    bool counted = false; // counts against the leak rules: an unsuppressed leak of a counted kind
};

struct RuleVerdict {
    std::string id;   // "leaked-bytes", "leaked-blocks", "peak", "growth"
    std::string name; // "leaked bytes", ...
    bool passed = true;
    int64_t measured = 0; // growth may be negative
    uint64_t limit = 0;
    std::string summary; // one line: "1200 leaked bytes > 1000 allowed (definite 1000, ...)"
};

struct Totals {
    uint64_t bytes = 0;
    uint64_t blocks = 0;
    uint64_t sites = 0;
};

struct GateVerdict {
    // The dump
    std::string dump_path;
    std::string program;
    std::string exe;
    int pid = 0;
    std::string end; // "exited with code 0", ...
    bool complete = false;
    bool scanned = false;
    bool sampled = false;  // the figures are estimates (memtrace run --sample)
    std::string scan_note; // what the kinds mean for this dump

    std::vector<GateSite> sites; // every site of the final heap, largest first
    Totals counted;              // leaks that count against the rules
    Totals suppressed;           // leaks a rule suppressed (any kind)
    Totals reachable;            // still reachable and not counted
    std::vector<std::string> counted_kinds;
    uint64_t peak_bytes = 0;
    std::optional<uint64_t> baseline_peak_bytes;
    std::string baseline_path;
    size_t suppression_rule_count = 0;

    std::vector<RuleVerdict> rules;
    bool passed() const;
};

// Kinds that count against the leak rules: definite, indirect and live (a block no scan
// covered may be lost), plus reachable when asked.
bool kind_counts(LeakKind kind, bool include_reachable);

// Loads the suppressions (default set first, then the files in order). Throws
// SuppressionError.
SuppressionSet load_suppressions(const GateRules& rules);

// Reads the dump (and the baseline), replays it, classifies, symbolizes and judges. Throws
// DumpError / SuppressionError.
GateVerdict evaluate(const std::string& dump_path, const GateRules& rules);

// "1.5 MiB"-style amounts with the exact byte count: "1536 bytes (1.5 KiB)".
std::string amount(uint64_t bytes);

} // namespace memtrace::gate
