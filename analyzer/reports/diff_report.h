// `memtrace diff A B`: the change of the live heap between two states, site by site. A and B
// are dumps (their final states) or snapshots of dumps (growth/dump_selection.h); two states
// of one dump are read with one replay.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>

namespace memtrace::reports {

struct DiffReportOptions {
    bool json = false;
    size_t top = 0; // show only the first `top` changed sites; 0 = all
};

// Reads both states and writes the report. Throws DumpError.
void write_diff_report(const std::string& a, const std::string& b, const DiffReportOptions& options,
                       std::ostream& out);

} // namespace memtrace::reports
