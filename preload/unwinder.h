// Stack capture into a caller-provided array: memtrace's own walk over cached .eh_frame rules
// (docs/design.md), with libunwind (local-only) for the frames the walk does not handle.
#pragma once

#include <stdint.h>

namespace memtrace::preload {

// Sets libunwind's caching policy, learns memtrace's own code range, reads MEMTRACE_UNWINDER and
// reserves the frame rule cache. Call once at start.
void unwinder_init();

// Captures the calling thread's stack, innermost first, without memtrace's own frames (the
// first frame is the return address into whoever called the malloc-family function).
// Writes at most max_depth frames; *truncated is set when the stack was deeper.
uint32_t capture_stack(uint64_t* frames, uint32_t max_depth, bool* truncated);

// Called before and after dlclose(): the frame rules cached for unloaded code must not be used
// for whatever is mapped at those addresses later.
void unwinder_forget_modules();

} // namespace memtrace::preload
