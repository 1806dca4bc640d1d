// Stack capture with libunwind in local-only mode (UNW_LOCAL_ONLY), into a caller-provided array.
#pragma once

#include <stdint.h>

namespace memtrace::preload {

// Sets libunwind's caching policy and learns memtrace's own code range. Call once at start.
void unwinder_init();

// Captures the calling thread's stack, innermost first, without memtrace's own frames (the
// first frame is the return address into whoever called the malloc-family function).
// Writes at most max_depth frames; *truncated is set when the stack was deeper.
uint32_t capture_stack(uint64_t* frames, uint32_t max_depth, bool* truncated);

} // namespace memtrace::preload
