// `memtrace arenas`: glibc's arenas and the process's memory over time (one row per memory
// sample), the arenas at the last sample, the anonymous mappings the program made itself that
// are still mapped at the end, grouped by stack, and CPython's pymalloc arenas among them.
#pragma once

#include <ostream>
#include <string>

namespace memtrace::reports {

struct ArenasOptions {
    bool json = false;
};

// Reads the dump and writes the report. Throws DumpError.
void write_arenas_report(const std::string& dump_path, const ArenasOptions& options,
                         std::ostream& out);

} // namespace memtrace::reports
