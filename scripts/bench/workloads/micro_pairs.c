// Micro-benchmark: the cost of one traced malloc/free pair at a known stack depth.
// Each of THREADS threads recurses until DEPTH frames of this program are on its stack (the
// libc start-up frames below come on top), then runs PAIRS/THREADS iterations of
// malloc(16..143) + free. It prints the number of malloc-family events it made, so the bench
// can compute dump bytes per event without trusting the tracer's own count.
//
// usage: micro_pairs DEPTH THREADS PAIRS
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct Job {
    unsigned depth;
    unsigned long pairs;
    unsigned long checksum;
};

// noinline + work after the call keeps every level a real frame (no inlining, no tail call).
__attribute__((noinline)) static unsigned long descend(unsigned level, struct Job* job) {
    if (level > 1) {
        unsigned long r = descend(level - 1, job);
        __asm__ volatile("" : "+r"(r));
        return r + 1;
    }
    unsigned long checksum = 0;
    for (unsigned long i = 0; i < job->pairs; ++i) {
        char* p = malloc(16 + (i & 127));
        if (p == NULL) abort();
        __asm__ volatile("" : : "r"(p) : "memory"); // the compiler must not elide the pair
        p[0] = (char)i;
        checksum += (unsigned char)p[0];
        free(p);
    }
    return checksum;
}

static void* run_job(void* arg) {
    struct Job* job = arg;
    // run_job itself is one frame; descend adds the rest
    job->checksum = descend(job->depth > 1 ? job->depth - 1 : 1, job);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s DEPTH THREADS PAIRS\n", argv[0]);
        return 2;
    }
    unsigned depth = (unsigned)strtoul(argv[1], NULL, 10);
    unsigned threads = (unsigned)strtoul(argv[2], NULL, 10);
    unsigned long pairs = strtoul(argv[3], NULL, 10);
    if (threads == 0 || threads > 64 || depth == 0) return 2;
    struct Job jobs[64];
    pthread_t ids[64];
    for (unsigned t = 0; t < threads; ++t) {
        jobs[t] = (struct Job){.depth = depth, .pairs = pairs / threads, .checksum = 0};
        if (threads == 1) {
            run_job(&jobs[t]);
        } else if (pthread_create(&ids[t], NULL, run_job, &jobs[t]) != 0) {
            return 1;
        }
    }
    unsigned long checksum = 0;
    unsigned long events = 0;
    for (unsigned t = 0; t < threads; ++t) {
        if (threads > 1) pthread_join(ids[t], NULL);
        checksum += jobs[t].checksum;
        events += 2 * jobs[t].pairs;
    }
    printf("events %lu checksum %lu\n", events, checksum);
    return 0;
}
