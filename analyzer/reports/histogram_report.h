// `memtrace histogram`: allocations per size class over the whole run (or up to a snapshot),
// with requested, usable and live figures.
#pragma once

#include <ostream>
#include <string>

namespace memtrace::reports {

struct HistogramOptions {
    bool json = false;
};

// Reads the dump named by `dump_argument` (DUMP, DUMP@N, DUMP@LABEL or DUMP@end, as for
// `memtrace diff`) and writes the histogram. Throws DumpError.
void write_histogram_report(const std::string& dump_argument, const HistogramOptions& options,
                            std::ostream& out);

} // namespace memtrace::reports
