// Threads that keep allocating and freeing, small blocks and large (mmapped, so freeing them
// unmaps their memory), while main exits: the scan at exit must neither crash nor hang, and
// still classify main's blocks. Expected leak scan: complete; "lost" (1100 bytes) definite.
#include "leakscan_io.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { kThreads = 4, kSlots = 64 };

static void* churn(void* seed_pointer) {
    unsigned seed = (unsigned)(uintptr_t)seed_pointer;
    void* slots[kSlots] = {0};
    for (;;) {
        const unsigned i = (seed = seed * 1103515245u + 12345u) % kSlots;
        free(slots[i]);
        // One in eight is above glibc's mmap threshold: freeing it unmaps its pages.
        const size_t size = (seed >> 8) % 8 == 0 ? 256 * 1024 : 16 + (seed >> 12) % 512;
        slots[i] = malloc(size);
        if (slots[i]) memset(slots[i], 0x5a, size < 64 ? size : 64);
    }
    return NULL;
}

__attribute__((noinline)) static void leak_in_main(void) {
    say_address("lost", malloc(1100));
}

int main(void) {
    pthread_t threads[kThreads];
    for (uintptr_t i = 0; i < kThreads; ++i)
        if (pthread_create(&threads[i], NULL, churn, (void*)(i + 1)) != 0) return 1;
    usleep(100 * 1000);
    leak_in_main();
    wipe_stack_below();
    return 0; // exit() while every thread is still allocating
}
