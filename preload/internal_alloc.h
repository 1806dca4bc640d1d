// Memory for memtrace's own bookkeeping (stack frames, module list), taken straight from the
// kernel so that nothing memtrace keeps ever goes through, or shows up in, the app's heap.
// Blocks are never freed: what is stored here lives as long as the process.
#pragma once

#include <stddef.h>

namespace memtrace::preload {

// Zeroed memory aligned to 16 bytes, or nullptr when the kernel refuses. Thread-safe.
void* internal_alloc(size_t size);

// Anonymous zeroed pages reserved without commit charge (MAP_NORESERVE); nullptr on failure.
void* reserve_pages(size_t size);

} // namespace memtrace::preload
