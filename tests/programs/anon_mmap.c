// Anonymous mappings made by the program itself, outside malloc:
//   map_scratch_region: 8 MiB, never unmapped (reported live at exit);
//   map_and_release:    4 MiB, unmapped again (not reported);
//   map_then_trim:      2 MiB, of which the upper 1 MiB is unmapped (1 MiB reported).
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

enum { kMiB = 1024 * 1024 };

void* volatile kept[2];

__attribute__((noinline)) void* map_scratch_region(void) {
    const int prot = PROT_READ | PROT_WRITE;
    const int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    void* region = mmap(NULL, 8 * kMiB, prot, flags, -1, 0); /* site: map_scratch_region */
    if (region != MAP_FAILED) memset(region, 1, 64 * 1024);
    return region;
}

__attribute__((noinline)) int map_and_release(void) {
    void* region = mmap(NULL, 4 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return -1;
    return munmap(region, 4 * kMiB);
}

__attribute__((noinline)) void* map_then_trim(void) {
    char* region = mmap(NULL, 2 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return NULL;
    if (munmap(region + kMiB, kMiB) != 0) return NULL;
    return region;
}

int main(void) {
    kept[0] = map_scratch_region();
    if (kept[0] == MAP_FAILED) return 1;
    if (map_and_release() != 0) return 2;
    kept[1] = map_then_trim();
    if (kept[1] == NULL) return 3;
    return 0;
}
