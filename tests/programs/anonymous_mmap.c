// Anonymous mappings: map_arena() maps 8 MiB and never unmaps it; map_scratch() maps 1 MiB and
// unmaps it; grow_and_move() maps 64 KiB and mremaps it to 4 MiB (which may move it). A file
// mapping (of the program itself) is made and unmapped too: it is not anonymous, so only its
// munmap is recorded. Prints "arena <address>" so the test can find the mapping.
#define _GNU_SOURCE
#include "program_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

void* volatile kept;

__attribute__((noinline)) void* map_arena(void) {
    void* p = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p; /* site: map_arena */
}

__attribute__((noinline)) void map_scratch(void) {
    void* p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) munmap(p, 1 << 20);
}

__attribute__((noinline)) void* grow_and_move(void) {
    void* p = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    void* q = mremap(p, 64 << 10, 4 << 20, MREMAP_MAYMOVE);
    return q == MAP_FAILED ? p : q;
}

__attribute__((noinline)) void map_file(void) {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    void* p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p != MAP_FAILED) munmap(p, 4096);
}

int main(void) {
    kept = map_arena();
    if (!kept) return 1;
    ((char*)kept)[0] = 1;
    say_number("arena", (long)kept);
    map_scratch();
    void* moved = grow_and_move();
    say_number("moved", (long)moved);
    map_file();
    return 0;
}
