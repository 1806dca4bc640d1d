// Runs for about half a second while two threads pass blocks between them (one allocates, the
// other frees, so frees cross threads and addresses are reused), with blocks leaked before,
// during and after that: the live-block map must end with exactly the blocks still live.
// Expected leak scan: "early" (700 bytes), "struct" (16) and "late" (900) definite; "first"
// (100) and "second" (200) indirect; "kept" (300) reachable from a global.
#include "leakscan_io.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

enum { kRounds = 50, kPerRound = 4000, kQueue = 1024 };

static void* g_kept;
static void* g_queue[kQueue];
static unsigned g_head, g_tail; // g_head: next to take; g_tail: next to fill
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_changed = PTHREAD_COND_INITIALIZER;
static int g_done;

__attribute__((noinline)) static void leak_early(void) {
    say_address("early", malloc(700));
    leak_pair();
    g_kept = malloc(300);
    say_address("kept", g_kept);
}

__attribute__((noinline)) static void leak_late(void) {
    say_address("late", malloc(900));
}

static void* consumer(void* unused) {
    (void)unused;
    pthread_mutex_lock(&g_lock);
    for (;;) {
        while (g_head == g_tail && !g_done)
            pthread_cond_wait(&g_changed, &g_lock);
        if (g_head == g_tail) break;
        // The slot is cleared: the global queue is a root, and "late" may reuse a freed address.
        void* block = g_queue[g_head % kQueue];
        g_queue[g_head++ % kQueue] = NULL;
        free(block);
        pthread_cond_signal(&g_changed);
    }
    pthread_mutex_unlock(&g_lock);
    // glibc keeps the stack of a joined thread for the next one, and the scan reads it.
    wipe_stack_below();
    return NULL;
}

static void produce(unsigned count) {
    for (unsigned i = 0; i < count; ++i) {
        void* block = malloc(16 + (i * 37) % 300);
        pthread_mutex_lock(&g_lock);
        while (g_tail - g_head == kQueue)
            pthread_cond_wait(&g_changed, &g_lock);
        g_queue[g_tail++ % kQueue] = block;
        pthread_cond_signal(&g_changed);
        pthread_mutex_unlock(&g_lock);
    }
}

int main(void) {
    leak_early();
    pthread_t thread;
    if (pthread_create(&thread, NULL, consumer, NULL) != 0) return 1;
    const struct timespec pause = {0, 10 * 1000 * 1000};
    for (int round = 0; round < kRounds; ++round) {
        produce(kPerRound);
        nanosleep(&pause, NULL);
    }
    pthread_mutex_lock(&g_lock);
    g_done = 1;
    pthread_cond_signal(&g_changed);
    pthread_mutex_unlock(&g_lock);
    pthread_join(thread, NULL);
    leak_late();
    wipe_stack_below();
    return 0;
}
