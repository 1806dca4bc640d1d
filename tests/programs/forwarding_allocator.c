// An allocator of its own, as far as memtrace can tell: the malloc family, each function handing
// the call to glibc's. Preloaded after libmemtrace.so it is what memtrace's hooks call, and since
// it is not libc.so memtrace assumes nothing of its blocks' layout (sampling then keeps the
// addresses of recorded blocks in a set instead of giving them a header).
#include <errno.h>
#include <stddef.h>

extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* p, size_t size);
extern void* __libc_memalign(size_t alignment, size_t size);
extern void* __libc_valloc(size_t size);
extern void* __libc_pvalloc(size_t size);
extern void __libc_free(void* p);

void* malloc(size_t size) {
    return __libc_malloc(size);
}

void free(void* p) {
    __libc_free(p);
}

void* calloc(size_t count, size_t size) {
    return __libc_calloc(count, size);
}

void* realloc(void* p, size_t size) {
    return __libc_realloc(p, size);
}

void* memalign(size_t alignment, size_t size) {
    return __libc_memalign(alignment, size);
}

void* aligned_alloc(size_t alignment, size_t size) {
    return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, size_t alignment, size_t size) {
    if (alignment == 0 || (alignment & (alignment - 1)) || alignment % sizeof(void*)) return EINVAL;
    void* p = __libc_memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void* valloc(size_t size) {
    return __libc_valloc(size);
}

void* pvalloc(size_t size) {
    return __libc_pvalloc(size);
}
