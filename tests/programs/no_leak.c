// Allocates and frees everything, including blocks freed by a different thread than the one
// that allocated them. Expected: no live block at exit.
#include "program_io.h"

#include <pthread.h>
#include <stdlib.h>

enum { kBlocks = 64 };

static void* handed_over[kBlocks];

__attribute__((noinline)) static void* allocate_in_worker(void* arg) {
    (void)arg;
    for (int i = 0; i < kBlocks; ++i)
        handed_over[i] = malloc(32 + (size_t)i);
    return NULL;
}

__attribute__((noinline)) static void* free_in_worker(void* arg) {
    void** blocks = arg;
    for (int i = 0; i < kBlocks; ++i)
        free(blocks[i]);
    return NULL;
}

int main(void) {
    // Allocated by a worker, freed by main.
    pthread_t worker;
    if (pthread_create(&worker, NULL, allocate_in_worker, NULL) != 0) return 10;
    pthread_join(worker, NULL);
    for (int i = 0; i < kBlocks; ++i)
        free(handed_over[i]);

    // Allocated by main, freed by a worker.
    void* from_main[kBlocks];
    for (int i = 0; i < kBlocks; ++i)
        from_main[i] = (i % 2) ? calloc(4, 16 + (size_t)i) : malloc(100 + (size_t)i);
    if (pthread_create(&worker, NULL, free_in_worker, from_main) != 0) return 11;
    pthread_join(worker, NULL);

    // Same-thread churn through the other entry points.
    void* grown = realloc(NULL, 10);
    grown = realloc(grown, 5000);
    free(grown);
    void* aligned = NULL;
    if (posix_memalign(&aligned, 64, 640) != 0) return 12;
    free(aligned);
    free(aligned_alloc(32, 96));
    free(NULL);
    say("no_leak done\n");
    return 0;
}
