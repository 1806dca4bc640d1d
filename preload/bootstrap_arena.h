// Allocations made before the real allocator is known: dlsym() may call calloc() while memtrace
// is still asking it where malloc is (the sanitizers' DlsymAlloc solves the same problem).
// A fixed static buffer, bump-allocated, never reused: free() of such a block is a no-op, and
// free()/realloc() must ask bootstrap_owns() before handing a pointer to the real allocator (the
// free hook's sampled path asks it only for blocks marked as sampled, which these are).
#pragma once

#include "hidden.h"

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

// Zeroed, aligned to `alignment` (a power of two, at least 16); nullptr when the arena is full.
void* bootstrap_alloc(size_t size, size_t alignment = 16);

inline constexpr size_t kBootstrapArenaSize = 256 * 1024;
extern MEMTRACE_HIDDEN unsigned char g_bootstrap_arena[kBootstrapArenaSize];

// Inline: every free() asks.
inline bool bootstrap_owns(const void* p) {
    // One comparison: below the arena wraps around to a large offset.
    return reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(g_bootstrap_arena) <
           kBootstrapArenaSize;
}
// The size requested for a block from bootstrap_alloc.
size_t bootstrap_size(const void* p);

} // namespace memtrace::preload
