// MEMTRACE_* environment variables, read once at start without allocating.
// docs/configuration.md lists them.
#pragma once

#include <stdint.h>

namespace memtrace::preload {

inline constexpr unsigned kPathMax = 4096;
inline constexpr uint64_t kDefaultLeakScanMaxDump = uint64_t{1} << 30;

struct Options {
    char output_template[kPathMax]; // MEMTRACE_OUTPUT, or the default template
    char report_paths[kPathMax];    // MEMTRACE_REPORT_PATHS, empty when unset
    uint32_t depth;                 // MEMTRACE_DEPTH, clamped to [1, kMaxStackDepth]
    bool leak_scan;                 // MEMTRACE_LEAK_SCAN: 0 turns the exit scan off
    uint64_t leak_scan_max_dump;    // MEMTRACE_LEAK_SCAN_MAX_DUMP in bytes
};

// Reads the environment into options(). Called once during initialization.
void read_options();
const Options& options();

} // namespace memtrace::preload
