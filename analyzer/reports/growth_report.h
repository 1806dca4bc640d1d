// `memtrace growth DUMP`: the allocation sites whose live bytes rise steadily over the
// snapshots of one run, best first (the rule: growth/growth_fit.h, docs/growth.md).
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>

namespace memtrace::reports {

struct GrowthReportOptions {
    bool json = false;
    size_t top = 0;         // show only the first `top` sites; 0 = all
    double min_r2 = 0.8;    // the fit quality a site needs to count as steady
    std::string from;       // first snapshot considered (N or LABEL); empty: the first
    std::string to;         // last snapshot considered; empty: the last
    bool with_exit = false; // also consider snapshots taken at exit
    bool series = false;    // JSON: each site's live bytes and blocks at every snapshot
};

// Reads the dump and writes the report. Throws DumpError.
void write_growth_report(const std::string& dump, const GrowthReportOptions& options,
                         std::ostream& out);

} // namespace memtrace::reports
