// 16 threads allocate at the same time (they wait for each other first), so glibc gives them
// arenas of their own (up to its limit of 8 per core, or MALLOC_ARENA_MAX). Every block is
// freed; the arenas stay for the rest of the process.
#include <pthread.h>
#include <stdlib.h>

enum { kThreads = 16, kBlocks = 2000 };

static pthread_barrier_t start_line;
static pthread_barrier_t finish_line;

__attribute__((noinline)) static void churn(void) {
    void* blocks[kBlocks];
    for (int i = 0; i < kBlocks; ++i)
        blocks[i] = malloc(64 + (size_t)(i % 200) * 8);
    for (int i = 0; i < kBlocks; ++i)
        free(blocks[i]);
}

static void* thread_main(void* arg) {
    (void)arg;
    pthread_barrier_wait(&start_line);
    churn();
    // Nobody leaves before everyone has allocated, so no arena is handed on to a later thread.
    pthread_barrier_wait(&finish_line);
    return NULL;
}

int main(void) {
    pthread_t threads[kThreads];
    if (pthread_barrier_init(&start_line, NULL, kThreads) != 0) return 2;
    if (pthread_barrier_init(&finish_line, NULL, kThreads) != 0) return 2;
    for (int i = 0; i < kThreads; ++i)
        if (pthread_create(&threads[i], NULL, thread_main, NULL) != 0) return 10;
    for (int i = 0; i < kThreads; ++i)
        pthread_join(threads[i], NULL);
    return 0;
}
