#include "options.h"

#include "memtrace/dump_format.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MEMTRACE_DEFAULT_DEPTH
#define MEMTRACE_DEFAULT_DEPTH 64
#endif

namespace memtrace::preload {
namespace {

constinit Options g_options{};

void copy_bounded(char* out, const char* in) {
    const size_t length = strnlen(in, kPathMax - 1);
    memcpy(out, in, length);
    out[length] = '\0';
}

// Parses a decimal number; returns fallback on anything else (no strtoul: it may touch locale).
uint32_t parse_unsigned(const char* text, uint32_t fallback) {
    if (!text || !*text) return fallback;
    uint64_t value = 0;
    for (const char* p = text; *p; ++p) {
        if (*p < '0' || *p > '9' || value > 1000000) return fallback;
        value = value * 10 + static_cast<uint64_t>(*p - '0');
    }
    return static_cast<uint32_t>(value);
}

bool same_letters(const char* text, const char* lower) {
    for (; *lower; ++text, ++lower) {
        const char c =
            (*text >= 'A' && *text <= 'Z') ? static_cast<char>(*text - 'A' + 'a') : *text;
        if (c != *lower) return false;
    }
    return *text == '\0';
}

void warn(const char* text) {
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored;
}

char lower_ascii(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equal_ignoring_case(const char* a, const char* b) {
    for (; *a && *b; ++a, ++b)
        if (lower_ascii(*a) != lower_ascii(*b)) return false;
    return *a == *b;
}

// Signals a snapshot must not take: uncatchable ones, and those memtrace's fatal-signal
// handlers watch (a snapshot there would hide the crash).
bool usable_snapshot_signal(int signal) {
    switch (signal) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGABRT:
    case SIGTRAP:
    case SIGSYS:
        return false;
    default:
        // 32 and 33 are glibc's own (thread cancellation, setxid), below SIGRTMIN.
        return signal > 0 && (signal < 32 || (signal >= SIGRTMIN && signal <= SIGRTMAX));
    }
}

} // namespace

bool parse_byte_count(const char* text, uint64_t* out) {
    constexpr uint64_t kLimit = uint64_t{1} << 40;
    if (!text || *text < '0' || *text > '9') return false;
    uint64_t value = 0;
    const char* p = text;
    for (; *p >= '0' && *p <= '9'; ++p) {
        value = value * 10 + static_cast<uint64_t>(*p - '0');
        if (value > kLimit) return false;
    }
    uint64_t unit = 1;
    if (*p) {
        static constexpr struct {
            char letter;
            uint64_t unit;
        } kUnits[] = {{'k', uint64_t{1} << 10}, {'m', uint64_t{1} << 20}, {'g', uint64_t{1} << 30}};
        const char letter = (*p >= 'A' && *p <= 'Z') ? static_cast<char>(*p - 'A' + 'a') : *p;
        unit = 0;
        for (const auto& u : kUnits)
            if (u.letter == letter) unit = u.unit;
        if (!unit) return false;
        const char* rest = p + 1;
        if (!(same_letters(rest, "") || same_letters(rest, "b") || same_letters(rest, "ib")))
            return false;
    }
    if (value > kLimit / unit) return false;
    *out = value * unit;
    return true;
}

uint32_t parse_interval_ms(const char* text, uint32_t fallback) {
    if (!text || !*text) return fallback;
    uint64_t whole = 0;
    const char* p = text;
    for (; *p >= '0' && *p <= '9'; ++p) {
        whole = whole * 10 + static_cast<uint64_t>(*p - '0');
        if (whole > kMaxIntervalMs) whole = kMaxIntervalMs; // saturate, do not overflow
    }
    bool any_digit = p != text;
    // Up to three fractional digits count (milliseconds); more are allowed and ignored.
    uint64_t fraction_ms = 0;
    if (*p == '.') {
        ++p;
        uint64_t scale = 100;
        for (; *p >= '0' && *p <= '9'; ++p) {
            fraction_ms += scale * static_cast<uint64_t>(*p - '0');
            scale /= 10;
            any_digit = true;
        }
    }
    if (*p || !any_digit) return fallback;
    uint64_t ms = whole * 1000 + fraction_ms;
    if (ms > kMaxIntervalMs) ms = kMaxIntervalMs;
    // Something below a millisecond but not zero ("0.0001") still asks for snapshots.
    bool nonzero = ms > 0;
    for (const char* q = text; *q && !nonzero; ++q)
        nonzero = *q >= '1' && *q <= '9';
    if (nonzero && ms < kMinIntervalMs) ms = kMinIntervalMs;
    return static_cast<uint32_t>(ms);
}

int parse_signal(const char* text, int fallback) {
    if (!text || !*text) return fallback;
    if (equal_ignoring_case(text, "off") || equal_ignoring_case(text, "none")) return 0;
    if (*text >= '0' && *text <= '9') {
        const uint32_t number = parse_unsigned(text, UINT32_MAX);
        if (number == 0) return 0;
        return number < 1000 && usable_snapshot_signal(static_cast<int>(number))
                   ? static_cast<int>(number)
                   : -1;
    }
    const char* name = text;
    if ((name[0] == 'S' || name[0] == 's') && (name[1] == 'I' || name[1] == 'i') &&
        (name[2] == 'G' || name[2] == 'g'))
        name += 3;
    for (int signal = 1; signal < NSIG; ++signal) {
        const char* abbreviation = sigabbrev_np(signal);
        if (abbreviation && equal_ignoring_case(name, abbreviation))
            return usable_snapshot_signal(signal) ? signal : -1;
    }
    return -1;
}

void read_options() {
    const char* output = getenv("MEMTRACE_OUTPUT");
    copy_bounded(g_options.output_template, output && *output ? output : "memtrace.%n.%p.mtd");
    const char* report = getenv("MEMTRACE_REPORT_PATHS");
    copy_bounded(g_options.report_paths, report ? report : "");
    uint32_t depth = parse_unsigned(getenv("MEMTRACE_DEPTH"), MEMTRACE_DEFAULT_DEPTH);
    if (depth < 1) depth = 1;
    if (depth > format::kMaxStackDepth) depth = format::kMaxStackDepth;
    g_options.depth = depth;
    g_options.sample_bytes = 0;
    const char* sample = getenv("MEMTRACE_SAMPLE_BYTES");
    if (sample && *sample && !parse_byte_count(sample, &g_options.sample_bytes)) {
        warn("memtrace: MEMTRACE_SAMPLE_BYTES is not a byte count (e.g. 524288, 512K, 1M); "
             "recording every allocation\n");
        g_options.sample_bytes = 0;
    }
    g_options.interval_ms = parse_interval_ms(getenv("MEMTRACE_INTERVAL"), kDefaultIntervalMs);
    const int signal = parse_signal(getenv("MEMTRACE_SNAPSHOT_SIGNAL"), SIGUSR2);
    g_options.snapshot_signal = signal > 0 ? signal : 0;
    g_options.snapshot_signal_invalid = signal < 0;
    const char* leak_scan = getenv("MEMTRACE_LEAK_SCAN");
    g_options.leak_scan = !(leak_scan && strcmp(leak_scan, "0") == 0);
}

const Options& options() {
    return g_options;
}

} // namespace memtrace::preload
