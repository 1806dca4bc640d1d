// Allocates blocks of known sizes, one size per histogram class, frees some of them, and prints
// for each size the sum of malloc_usable_size() over its blocks ("usable SIZE BYTES"), so the
// histogram's usable bytes can be checked against the allocator's own answer.
// Nothing else in the process allocates (output goes through write(2)).
//   size      blocks  freed  class
//   1         10      6      (0,8]
//   16        20      0      (8,16]
//   24        5       5      (16,24]
//   100       30      10     (96,104]
//   200       6       0      (192,200]   calloc(5, 40)
//   512       7       0      (504,512]
//   513       3       1      (512,1024]
//   3000      11      0      (2048,4096]
//   200000    2       0      (131072,262144]  above the mmap threshold
#include "program_io.h"

#include <malloc.h>
#include <stdlib.h>

struct Batch {
    size_t size;
    int blocks;
    int freed;
    int use_calloc;
};

static const struct Batch kBatches[] = {
    {1, 10, 6, 0},  {16, 20, 0, 0}, {24, 5, 5, 0},    {100, 30, 10, 0},  {200, 6, 0, 1},
    {512, 7, 0, 0}, {513, 3, 1, 0}, {3000, 11, 0, 0}, {200000, 2, 0, 0},
};
enum { kBatchCount = sizeof kBatches / sizeof kBatches[0], kMaxBlocks = 30 };

void* volatile kept[kBatchCount][kMaxBlocks];

__attribute__((noinline)) void* allocate(const struct Batch* batch) {
    return batch->use_calloc ? calloc(5, batch->size / 5) : malloc(batch->size);
}

int main(void) {
    char line[96];
    for (int b = 0; b < kBatchCount; ++b) {
        size_t usable = 0;
        for (int i = 0; i < kBatches[b].blocks; ++i) {
            kept[b][i] = allocate(&kBatches[b]);
            if (kept[b][i] == NULL) return 1;
            usable += malloc_usable_size(kept[b][i]);
        }
        for (int i = 0; i < kBatches[b].freed; ++i)
            free(kept[b][i]);
        snprintf(line, sizeof line, "usable %zu %zu\n", kBatches[b].size, usable);
        say(line);
    }
    return 0;
}
