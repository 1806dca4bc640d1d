#include "usable_size.h"

#include <dlfcn.h>
#include <string.h>

namespace memtrace::preload {

constinit bool g_glibc_chunk_headers = false;
constinit uint32_t g_header_checks_left = 0;
constinit bool g_allocator_is_glibc = false;

namespace {

bool from_glibc(void* function) {
    Dl_info info;
    if (!function || dladdr(function, &info) == 0 || !info.dli_fname) return false;
    const char* base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    return strncmp(base, "libc.so", 7) == 0;
}

} // namespace

void usable_size_init() {
    g_glibc_chunk_headers = false;
    const bool glibc = g_real.malloc_usable_size &&
                       from_glibc(reinterpret_cast<void*>(g_real.malloc)) &&
                       from_glibc(reinterpret_cast<void*>(g_real.malloc_usable_size));
    g_allocator_is_glibc = glibc;
    g_header_checks_left = glibc ? kHeaderChecks : 0;
}

void note_header_check(bool agreed) {
    // Threads may race here: a few extra checks, or one fewer, change nothing.
    const uint32_t left = __atomic_load_n(&g_header_checks_left, __ATOMIC_RELAXED);
    if (left == 0) return;
    if (!agreed) {
        __atomic_store_n(&g_header_checks_left, 0u, __ATOMIC_RELAXED); // never the header
    } else if (left == 1) {
        __atomic_store_n(&g_header_checks_left, 0u, __ATOMIC_RELAXED);
        __atomic_store_n(&g_glibc_chunk_headers, true, __ATOMIC_RELAXED);
    } else {
        __atomic_store_n(&g_header_checks_left, left - 1, __ATOMIC_RELAXED);
    }
}

size_t usable_size_checked(void* p) {
    if (!g_real.malloc_usable_size) return 0;
    const size_t usable = g_real.malloc_usable_size(p);
    if (__atomic_load_n(&g_header_checks_left, __ATOMIC_RELAXED))
        note_header_check(glibc_usable_size(p) == usable);
    return usable;
}

} // namespace memtrace::preload
