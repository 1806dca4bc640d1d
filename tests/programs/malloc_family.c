// One leak from each allocation entry point, each from its own function with a distinct size:
//   from_malloc 1001, from_calloc 10x101=1010, from_realloc 1020 (its 10-byte source freed),
//   from_reallocarray 10x103=1030, from_posix_memalign 1040, from_aligned_alloc 1280,
//   from_memalign 1050, from_valloc 1060, from_pvalloc 8192 (a page multiple, so no rounding).
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>

void* volatile kept[9];

__attribute__((noinline)) void* from_malloc(void) {
    return malloc(1001); /* site: from_malloc */
}

__attribute__((noinline)) void* from_calloc(void) {
    return calloc(10, 101); /* site: from_calloc */
}

__attribute__((noinline)) void* from_realloc(void) {
    void* p = malloc(10);
    return realloc(p, 1020); /* site: from_realloc */
}

__attribute__((noinline)) void* from_reallocarray(void) {
    return reallocarray(NULL, 10, 103); /* site: from_reallocarray */
}

__attribute__((noinline)) void* from_posix_memalign(void) {
    void* p = NULL;
    if (posix_memalign(&p, 64, 1040) != 0) /* site: from_posix_memalign */
        return NULL;
    return p;
}

__attribute__((noinline)) void* from_aligned_alloc(void) {
    return aligned_alloc(128, 1280); /* site: from_aligned_alloc */
}

__attribute__((noinline)) void* from_memalign(void) {
    return memalign(256, 1050); /* site: from_memalign */
}

__attribute__((noinline)) void* from_valloc(void) {
    return valloc(1060); /* site: from_valloc */
}

__attribute__((noinline)) void* from_pvalloc(void) {
    return pvalloc(8192); /* site: from_pvalloc */
}

int main(void) {
    kept[0] = from_malloc();
    kept[1] = from_calloc();
    kept[2] = from_realloc();
    kept[3] = from_reallocarray();
    kept[4] = from_posix_memalign();
    kept[5] = from_aligned_alloc();
    kept[6] = from_memalign();
    kept[7] = from_valloc();
    kept[8] = from_pvalloc();
    for (int i = 0; i < 9; ++i)
        if (kept[i] == NULL) return 10 + i;
    return 0;
}
