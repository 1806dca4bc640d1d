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
    uint32_t interval_ms;           // MEMTRACE_INTERVAL in ms; 0 = no periodic snapshot
    int snapshot_signal;            // MEMTRACE_SNAPSHOT_SIGNAL; 0 = none
    bool snapshot_signal_invalid;   // MEMTRACE_SNAPSHOT_SIGNAL named no usable signal
    bool leak_scan;                 // MEMTRACE_LEAK_SCAN: 0 turns the exit scan off
};

// Parses a byte count: decimal digits, optionally followed by K, M or G (also KB/KiB, MB/MiB,
// GB/GiB, any case; all binary multiples). False on anything else, or above 2^40.
bool parse_byte_count(const char* text, uint64_t* out);

inline constexpr uint32_t kDefaultIntervalMs = 1000;
inline constexpr uint32_t kMinIntervalMs = 10;
inline constexpr uint32_t kMaxIntervalMs = 24 * 3600 * 1000;

// "0.2" -> 200, "1" -> 1000, "0" -> 0; values in (0, kMinIntervalMs) become kMinIntervalMs and
// values above kMaxIntervalMs become kMaxIntervalMs. Returns fallback for anything that is not
// a non-negative decimal number (no exponent, no sign).
uint32_t parse_interval_ms(const char* text, uint32_t fallback);

// "USR2", "SIGUSR2", "sigusr2", "12" -> the signal number; "0", "off", "none" -> 0; -1 when the
// text names no signal or one memtrace cannot use (KILL, STOP, or a fatal signal memtrace
// itself watches). An empty or missing text gives fallback.
int parse_signal(const char* text, int fallback);

// Reads the environment into options(). Called once during initialization.
void read_options();
const Options& options();

} // namespace memtrace::preload
