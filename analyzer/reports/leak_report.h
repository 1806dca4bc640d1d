// `memtrace leaks`: the blocks still live when the process ended (or when the dump stops),
// grouped by allocation stack, largest first.
#pragma once

#include "heap_model.h"

#include <cstddef>
#include <cstdint>
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

struct LeakReportOptions {
    bool json = false;
    size_t top = 0; // show only the largest `top` sites; 0 = all
};

// Reads the dump and writes the report. Throws DumpError.
void write_leak_report(const std::string& dump_path, const LeakReportOptions& options,
                       std::ostream& out);

} // namespace memtrace::reports
