#include "options.h"

#include "memtrace/dump_format.h"

#include <stdlib.h>
#include <string.h>

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

// A byte count with an optional K, M or G suffix (powers of 1024); fallback on anything else.
uint64_t parse_bytes(const char* text, uint64_t fallback) {
    if (!text || !*text) return fallback;
    uint64_t value = 0;
    const char* p = text;
    for (; *p >= '0' && *p <= '9'; ++p) {
        if (value > (uint64_t{1} << 50)) return fallback;
        value = value * 10 + static_cast<uint64_t>(*p - '0');
    }
    if (p == text) return fallback;
    unsigned shift = 0;
    switch (*p) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        ++p;
        break;
    case 'm':
    case 'M':
        shift = 20;
        ++p;
        break;
    case 'g':
    case 'G':
        shift = 30;
        ++p;
        break;
    default:
        return fallback;
    }
    if (*p != '\0') return fallback;
    if (shift && value > (UINT64_MAX >> shift)) return UINT64_MAX;
    return value << shift;
}

} // namespace

void read_options() {
    const char* output = getenv("MEMTRACE_OUTPUT");
    copy_bounded(g_options.output_template, output && *output ? output : "memtrace.%n.%p.mtd");
    const char* report = getenv("MEMTRACE_REPORT_PATHS");
    copy_bounded(g_options.report_paths, report ? report : "");
    uint32_t depth = parse_unsigned(getenv("MEMTRACE_DEPTH"), MEMTRACE_DEFAULT_DEPTH);
    if (depth < 1) depth = 1;
    if (depth > format::kMaxStackDepth) depth = format::kMaxStackDepth;
    g_options.depth = depth;
    const char* leak_scan = getenv("MEMTRACE_LEAK_SCAN");
    g_options.leak_scan = !(leak_scan && strcmp(leak_scan, "0") == 0);
    g_options.leak_scan_max_dump =
        parse_bytes(getenv("MEMTRACE_LEAK_SCAN_MAX_DUMP"), kDefaultLeakScanMaxDump);
}

const Options& options() {
    return g_options;
}

} // namespace memtrace::preload
