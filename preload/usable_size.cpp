#include "usable_size.h"

#include <dlfcn.h>
#include <string.h>

namespace memtrace::preload {

constinit bool g_glibc_chunk_headers = false;

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
    if (!g_real.malloc_usable_size || !from_glibc(reinterpret_cast<void*>(g_real.malloc)) ||
        !from_glibc(reinterpret_cast<void*>(g_real.malloc_usable_size))) {
        return;
    }
    // Small, medium, large and mmapped (above the default 128 KiB threshold) blocks.
    static constexpr size_t kSizes[] = {1, 24, 25, 100, 1000, 4000, 70000, 300000, 2 << 20};
    for (size_t size : kSizes) {
        void* p = g_real.malloc(size);
        if (!p) return;
        const bool same = glibc_usable_size(p) == g_real.malloc_usable_size(p);
        g_real.free(p);
        if (!same) return;
    }
    g_glibc_chunk_headers = true;
}

} // namespace memtrace::preload
