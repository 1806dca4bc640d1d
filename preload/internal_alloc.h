// Memory for memtrace's own bookkeeping (stack frames, module list), taken straight from the
// kernel so that nothing memtrace keeps ever goes through, or shows up in, the app's heap.
// Blocks are never freed: what is stored here lives as long as the process.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

// Zeroed memory aligned to 16 bytes, or nullptr when the kernel refuses. Thread-safe.
void* internal_alloc(size_t size);

// Anonymous zeroed pages reserved without commit charge (MAP_NORESERVE); nullptr on failure.
void* reserve_pages(size_t size);

// The regions reserve_pages handed out (internal_alloc takes its memory there too), so that the
// leak scan does not take memtrace's own bookkeeping for the app's roots. Copies up to `max`
// regions into out and returns how many were copied; regions beyond the registry's
// capacity are not listed (the scan then reads them, which costs time but finds no heap pointer).
struct MemoryRegion {
    uintptr_t begin;
    uintptr_t end; // one past the last byte
};
size_t own_memory_regions(MemoryRegion* out, size_t max);

} // namespace memtrace::preload
