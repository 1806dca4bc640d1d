// Meant for one sample per byte (--sample 1): every block of 64 bytes or more is then recorded
// and, on glibc, carries memtrace's header in front of it. Checks what the program must still
// see, and exits with the failed check's number: alignment, zeroed calloc memory, bytes kept
// across realloc (moving in and out of mmapped sizes), the usable size writable to its end,
// realloc(p, 0) freeing. Then leaks one block from each of five functions:
//   leak_malloc 1001, leak_calloc 10x101=1010, leak_realloc 1020, leak_memalign 1050,
//   leak_pvalloc 8192
// and forks: the child frees two blocks the parent allocated (their Alloc records are in the
// parent's dump, not the child's), leaks child_leak 2222 and exits 0. Prints both pids.
#define _GNU_SOURCE
#include "program_io.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void* volatile kept[6];

static int check_number;

static void check(int ok) {
    ++check_number;
    if (!ok) _exit(check_number);
}

#define aligned_to(p, alignment) ((((uintptr_t)(p)) & ((alignment)-1)) == 0)

static void fill(unsigned char* p, size_t n, unsigned char seed) {
    for (size_t i = 0; i < n; ++i)
        p[i] = (unsigned char)(seed + i * 7);
}

static int filled(const unsigned char* p, size_t n, unsigned char seed) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] != (unsigned char)(seed + i * 7)) return 0;
    return 1;
}

// The whole usable size is the program's to write; glibc's free checks the neighbours.
static void use_all(void* p, size_t at_least) {
    const size_t usable = malloc_usable_size(p);
    check(usable >= at_least && usable < at_least + 4096 + 64);
    memset(p, 0xa5, usable);
}

__attribute__((noinline)) void* leak_malloc(void) {
    return malloc(1001); /* site: leak_malloc */
}

__attribute__((noinline)) void* leak_calloc(void) {
    return calloc(10, 101); /* site: leak_calloc */
}

__attribute__((noinline)) void* leak_realloc(void) {
    void* p = malloc(64);
    return realloc(p, 1020); /* site: leak_realloc */
}

__attribute__((noinline)) void* leak_memalign(void) {
    return memalign(256, 1050); /* site: leak_memalign */
}

__attribute__((noinline)) void* leak_pvalloc(void) {
    return pvalloc(8192); /* site: leak_pvalloc */
}

__attribute__((noinline)) void* child_leak(void) {
    return malloc(2222); /* site: child_leak */
}

static void exercise(void) {
    unsigned char* p = malloc(1000);
    check(p && aligned_to(p, 16));
    use_all(p, 1000);
    free(p);

    unsigned char* zeroed = calloc(100, 10);
    check(zeroed != NULL);
    for (size_t i = 0; i < 1000; ++i)
        check(zeroed[i] == 0);
    free(zeroed);

    // Growing, shrinking, into glibc's mmapped sizes and back: the bytes stay.
    unsigned char* r = malloc(100);
    check(r != NULL);
    fill(r, 100, 3);
    const size_t sizes[] = {5000, 50, 300000, 2000000, 70, 100};
    size_t kept_bytes = 100;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
        r = realloc(r, sizes[i]);
        check(r && aligned_to(r, 16));
        if (sizes[i] < kept_bytes) kept_bytes = sizes[i];
        check(filled(r, kept_bytes, 3));
    }
    use_all(r, 100);
    check(realloc(r, 0) == NULL); // glibc: frees the block

    unsigned char* grown = reallocarray(NULL, 10, 103);
    check(grown != NULL);
    use_all(grown, 1030);
    free(grown);

    void* aligned = NULL;
    check(posix_memalign(&aligned, 64, 1040) == 0 && aligned_to(aligned, 64));
    use_all(aligned, 1040);
    unsigned char* moved = realloc(aligned, 3000); // realloc keeps malloc's alignment only
    check(moved && aligned_to(moved, 16));
    free(moved);
    check(posix_memalign(&aligned, 3, 100) != 0); // not a power of two: refused as natively
    void* big_aligned = aligned_alloc(4096, 8192);
    check(big_aligned && aligned_to(big_aligned, 4096));
    use_all(big_aligned, 8192);
    free(big_aligned);
    void* odd = memalign(48, 500); // glibc rounds the alignment up to 64
    check(odd && aligned_to(odd, 64));
    free(odd);
    void* page = valloc(1060);
    check(page && aligned_to(page, 4096));
    use_all(page, 1060);
    free(page);
    void* whole = pvalloc(100);
    check(whole && aligned_to(whole, 4096) && malloc_usable_size(whole) >= 4096);
    memset(whole, 0x5a, 4096);
    free(whole);

    void* large = malloc(1 << 20);
    check(large != NULL);
    use_all(large, 1 << 20);
    free(large);
    free(NULL);
}

int main(void) {
    exercise();
    kept[0] = leak_malloc();
    kept[1] = leak_calloc();
    kept[2] = leak_realloc();
    kept[3] = leak_memalign();
    kept[4] = leak_pvalloc();
    for (int i = 0; i < 5; ++i)
        check(kept[i] != NULL);
    check(aligned_to(kept[3], 256) && aligned_to(kept[4], 4096));

    void* handed = malloc(3000);
    void* handed_aligned = memalign(512, 3000);
    check(handed && handed_aligned);
    pid_t child = fork();
    if (child < 0) return 100;
    if (child == 0) {
        free(handed);
        free(handed_aligned);
        kept[5] = child_leak();
        exit(kept[5] ? 0 : 101);
    }
    free(handed);
    free(handed_aligned);
    int status = 0;
    if (waitpid(child, &status, 0) != child) return 102;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 103;
    say_number("parent", (long)getpid());
    say_number("child", (long)child);
    return 0;
}
