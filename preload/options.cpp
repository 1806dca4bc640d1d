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
}

const Options& options() {
    return g_options;
}

} // namespace memtrace::preload
