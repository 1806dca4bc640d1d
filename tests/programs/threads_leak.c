// kThreads threads each leak 3 blocks of 256 bytes from leak_small() and one block of 1024
// bytes from leak_large(); main leaks nothing.
#include <pthread.h>
#include <stdlib.h>

enum { kThreads = 4, kSmallPerThread = 3 };

void* volatile kept[kThreads * (kSmallPerThread + 1)];

__attribute__((noinline)) void* leak_small(void) {
    return malloc(256); /* site: leak_small */
}

__attribute__((noinline)) void* leak_large(void) {
    return malloc(1024); /* site: leak_large */
}

static void* thread_main(void* arg) {
    long index = (long)arg;
    for (int i = 0; i < kSmallPerThread; ++i)
        kept[index * (kSmallPerThread + 1) + i] = leak_small();
    kept[index * (kSmallPerThread + 1) + kSmallPerThread] = leak_large();
    free(malloc(77)); // a freed block, so the thread also has some churn
    return NULL;
}

int main(void) {
    pthread_t threads[kThreads];
    for (long i = 0; i < kThreads; ++i)
        if (pthread_create(&threads[i], NULL, thread_main, (void*)i) != 0) return 10;
    for (int i = 0; i < kThreads; ++i)
        pthread_join(threads[i], NULL);
    return 0;
}
