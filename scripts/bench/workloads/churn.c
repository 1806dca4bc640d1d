// Workload "churn": several threads allocate and free blocks of mixed sizes as fast as they can.
// Each thread keeps a ring of recent blocks and replaces a random slot on every step, so most
// blocks live briefly and a few survive many steps. Fixed seeds: every run does the same work.
//
// usage: churn THREADS STEPS_PER_THREAD
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kSlots = 512 };

struct ThreadWork {
    unsigned index;
    unsigned long steps;
    unsigned long checksum;
};

static uint64_t next_random(uint64_t* state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

// Mostly small blocks, as real programs allocate; now and then a large one.
static size_t pick_size(uint64_t r) {
    unsigned bucket = (unsigned)(r % 100);
    uint64_t v = r >> 8;
    if (bucket < 60) return 8 + v % 57;     // 8..64
    if (bucket < 90) return 64 + v % 449;   // 64..512
    if (bucket < 99) return 512 + v % 3585; // 512..4096
    return 4096 + v % 61441;                // 4 KiB..64 KiB
}

static void* churn_thread(void* arg) {
    struct ThreadWork* work = arg;
    uint64_t state = 0x9e3779b97f4a7c15ull * (work->index + 1);
    char* slots[kSlots] = {0};
    unsigned long checksum = 0;
    for (unsigned long step = 0; step < work->steps; ++step) {
        uint64_t r = next_random(&state);
        unsigned slot = (unsigned)(r >> 40) % kSlots;
        size_t size = pick_size(r);
        unsigned action = (unsigned)(r >> 56) & 15;
        if (action == 0 && slots[slot] != NULL) {
            // grow or shrink in place of a free + malloc
            char* grown = realloc(slots[slot], size);
            if (grown == NULL) abort();
            slots[slot] = grown;
        } else {
            free(slots[slot]);
            slots[slot] = action == 1 ? calloc(1, size) : malloc(size);
            if (slots[slot] == NULL) abort();
        }
        slots[slot][0] = (char)step;
        slots[slot][size - 1] = (char)(step >> 8);
        char* other = slots[(slot * 7 + 1) % kSlots];
        if (other != NULL) checksum += (unsigned char)other[0];
    }
    for (unsigned i = 0; i < kSlots; ++i)
        free(slots[i]);
    work->checksum = checksum;
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s THREADS STEPS_PER_THREAD\n", argv[0]);
        return 2;
    }
    unsigned threads = (unsigned)strtoul(argv[1], NULL, 10);
    unsigned long steps = strtoul(argv[2], NULL, 10);
    if (threads == 0 || threads > 64) return 2;
    pthread_t ids[64];
    struct ThreadWork work[64];
    for (unsigned i = 0; i < threads; ++i) {
        work[i] = (struct ThreadWork){.index = i, .steps = steps, .checksum = 0};
        if (pthread_create(&ids[i], NULL, churn_thread, &work[i]) != 0) return 1;
    }
    unsigned long total = 0;
    for (unsigned i = 0; i < threads; ++i) {
        pthread_join(ids[i], NULL);
        total += work[i].checksum;
    }
    printf("churn checksum %lu\n", total);
    return 0;
}
