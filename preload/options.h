// MEMTRACE_* environment variables, read once at start without allocating.
// docs/configuration.md lists them.
#pragma once

#include <stdint.h>

namespace memtrace::preload {

inline constexpr unsigned kPathMax = 4096;

struct Options {
    char output_template[kPathMax]; // MEMTRACE_OUTPUT, or the default template
    char report_paths[kPathMax];    // MEMTRACE_REPORT_PATHS, empty when unset
    uint32_t depth;                 // MEMTRACE_DEPTH, clamped to [1, kMaxStackDepth]
    uint64_t sample_bytes;          // MEMTRACE_SAMPLE_BYTES; 0 = record every allocation
};

// Parses a byte count: decimal digits, optionally followed by K, M or G (also KB/KiB, MB/MiB,
// GB/GiB, any case; all binary multiples). False on anything else, or above 2^40.
bool parse_byte_count(const char* text, uint64_t* out);

// Reads the environment into options(). Called once during initialization.
void read_options();
const Options& options();

} // namespace memtrace::preload
