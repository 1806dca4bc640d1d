// 200 threads start together, churn through malloc/free and each leaks one block of
// 100 + index bytes from leak_per_thread(): 200 blocks, 200*100 + (0+...+199) = 39900 bytes.
#include <pthread.h>
#include <stdlib.h>

enum { kThreads = 200, kIterations = 500, kRing = 8 };

void* volatile kept[kThreads];
static pthread_barrier_t start_line;

__attribute__((noinline)) void* leak_per_thread(long index) {
    return malloc(100 + (size_t)index); /* site: leak_per_thread */
}

static void* thread_main(void* arg) {
    long index = (long)arg;
    void* ring[kRing] = {0};
    pthread_barrier_wait(&start_line);
    for (int i = 0; i < kIterations; ++i) {
        int slot = i % kRing;
        free(ring[slot]);
        ring[slot] = malloc(16 + (size_t)((i * 7 + index) % 512));
    }
    kept[index] = leak_per_thread(index);
    for (int slot = 0; slot < kRing; ++slot)
        free(ring[slot]);
    return NULL;
}

int main(void) {
    pthread_t threads[kThreads];
    if (pthread_barrier_init(&start_line, NULL, kThreads) != 0) return 2;
    for (long i = 0; i < kThreads; ++i)
        if (pthread_create(&threads[i], NULL, thread_main, (void*)i) != 0) return 10;
    for (int i = 0; i < kThreads; ++i)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start_line);
    return 0;
}
