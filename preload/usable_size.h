// The usable size of a live block, which the size-class counters need for every allocation and
// every free. malloc_usable_size() is a call into the allocator that also checks the *next*
// chunk (a second cache line) to answer 0 for freed memory; for a block known to be live,
// glibc's own chunk header says the same in one load. memtrace reads the header only when the
// real allocator is glibc's and the header agreed with malloc_usable_size() on the program's
// first kHeaderChecks blocks (checking on blocks of its own would change the allocator's state:
// freeing an mmapped block raises glibc's mmap threshold for the rest of the run).
#pragma once

#include "hidden.h"
#include "real_functions.h"

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

extern MEMTRACE_HIDDEN bool g_glibc_chunk_headers;
// The real malloc is glibc's (its blocks are 16-byte aligned); set by usable_size_init.
extern MEMTRACE_HIDDEN bool g_allocator_is_glibc;
// Blocks still to compare before g_glibc_chunk_headers is set; 0 once decided either way.
extern MEMTRACE_HIDDEN uint32_t g_header_checks_left;
inline constexpr uint32_t kHeaderChecks = 64;

// glibc (malloc/malloc.c): the size word before the block; low bits are flags, IS_MMAPPED = 2.
// An mmapped chunk has 16 bytes of overhead, any other 8 (the next chunk's prev_size is usable).
inline size_t glibc_usable_size(const void* p) {
    // Through an integer: the word is outside the block as far as the compiler knows.
    const auto* header = reinterpret_cast<const size_t*>(reinterpret_cast<uintptr_t>(p) - 8);
    const size_t word = *header;
    const size_t chunk = word & ~size_t{7};
    return (word & 2) ? chunk - 16 : chunk - 8;
}

// What glibc's malloc gives a request of `size` bytes from its heap (malloc/malloc.c,
// request2size: size + 8 rounded up to 16, at least 32, less the 8-byte header). A chunk found
// in a bin is split unless less than 32 bytes would remain: it may then be 16 bytes larger.
constexpr size_t glibc_heap_usable_size(size_t size) {
    const size_t chunk = (size + 8 + 15) & ~size_t{15};
    return (chunk < 32 ? 32 : chunk) - 8;
}

// Before the header is trusted (and always, with another allocator): malloc_usable_size(),
// compared with the header while checks are left.
size_t usable_size_checked(void* p);
// One comparison's outcome: a disagreement rules the header out for good.
void note_header_check(bool agreed);

// Only for a live block handed out by the real allocator.
inline size_t usable_size(void* p) {
    if (__builtin_expect(__atomic_load_n(&g_glibc_chunk_headers, __ATOMIC_RELAXED), 1))
        return glibc_usable_size(p);
    return usable_size_checked(p);
}

// Decides whether glibc's headers may be checked at all (the real functions must be resolved).
void usable_size_init();

} // namespace memtrace::preload
