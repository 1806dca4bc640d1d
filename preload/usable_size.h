// The usable size of a live block, which the size-class counters need for every allocation and
// every free. malloc_usable_size() is a call into the allocator that also checks the *next*
// chunk (a second cache line) to answer 0 for freed memory; for a block known to be live,
// glibc's own chunk header says the same in one load. memtrace reads the header only when the
// real allocator is glibc's and agrees with malloc_usable_size() on test blocks at start.
#pragma once

#include "real_functions.h"

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

extern bool g_glibc_chunk_headers;

// glibc (malloc/malloc.c): the size word before the block; low bits are flags, IS_MMAPPED = 2.
// An mmapped chunk has 16 bytes of overhead, any other 8 (the next chunk's prev_size is usable).
inline size_t glibc_usable_size(const void* p) {
    // Through an integer: the word is outside the block as far as the compiler knows.
    const auto* header = reinterpret_cast<const size_t*>(reinterpret_cast<uintptr_t>(p) - 8);
    const size_t word = *header;
    const size_t chunk = word & ~size_t{7};
    return (word & 2) ? chunk - 16 : chunk - 8;
}

// Only for a live block handed out by the real allocator.
inline size_t usable_size(void* p) {
    if (__builtin_expect(g_glibc_chunk_headers, 1)) return glibc_usable_size(p);
    return g_real.malloc_usable_size ? g_real.malloc_usable_size(p) : 0;
}

// Decides whether glibc's headers can be read (the real functions must be resolved).
void usable_size_init();

} // namespace memtrace::preload
