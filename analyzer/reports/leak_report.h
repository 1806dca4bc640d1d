// `memtrace leaks`: the blocks still live when the process ended (or when the dump stops),
// grouped by allocation stack and leak kind (definite, indirect, reachable, live), largest
// first.
#pragma once

#include "heap_model.h"
#include "leak_kinds.h"

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace memtrace::reports {

struct LeakSite {
    uint32_t stack_id = 0;
    uint64_t bytes = 0;
    uint64_t blocks = 0;
};

// Stacks holding live blocks at the end: most bytes first, then most blocks, then lowest id.
std::vector<LeakSite> leak_sites(const HeapModel& model);

// The kinds the text report shows: definite, indirect and live; reachable only with `all`.
bool shown_in_text(LeakKind kind, bool all);

// {"status": "complete"|"skipped"|"failed"|"none", "time_s", "scan_s", block counts}.
nlohmann::json scan_json(const DumpReader& reader);

// {"definite": {"bytes", "blocks", "sites"}, "indirect": ..., "reachable": ..., "live": ...}.
nlohmann::json kind_totals_json(const LeakClassification& leaks);

// One line that says what the kinds mean for this dump: whether a scan ran.
std::string scan_description(const DumpReader& reader, const LeakClassification& leaks);

struct LeakReportOptions {
    bool json = false;
    bool all = false; // text: also show still-reachable sites (JSON always has every kind)
    size_t top = 0;   // show only the largest `top` sites; 0 = all
};

// Reads the dump and writes the report. Throws DumpError.
void write_leak_report(const std::string& dump_path, const LeakReportOptions& options,
                       std::ostream& out);

} // namespace memtrace::reports
