// `memtrace histogram`: allocations per size class over the whole run (or up to a snapshot),
// with requested, usable and live figures.
#pragma once

#include <ostream>
#include <string>

namespace memtrace::reports {

struct HistogramOptions {
    bool json = false;
    std::string selector; // after '@': a snapshot number or label, or "end"/empty
};

// Reads the dump and writes the histogram. Throws DumpError.
void write_histogram_report(const std::string& dump_path, const HistogramOptions& options,
                            std::ostream& out);

} // namespace memtrace::reports
