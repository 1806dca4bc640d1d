// Two pairs of threads hand blocks back and forth as fast as they can: the producer allocates
// and the consumer frees, and the consumer's replies go the other way, so most frees happen on
// another thread than the allocation and freed addresses are soon reused by the other thread.
// Every event on a block must replay after the one it follows (no free before its allocation,
// no allocation of an address still live). Each of the four threads leaks one block of
// 1000 + index bytes from leak_one(): 4 blocks, 4006 bytes.
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

enum { kPairs = 2, kHandoffs = 100000, kRing = 64 };

// One producer, one consumer.
struct Ring {
    void* slots[kRing];
    _Atomic unsigned head; // next to take
    _Atomic unsigned tail; // next to fill
};

struct Pair {
    struct Ring to_consumer;
    struct Ring to_producer;
    long index;
};

void* volatile kept[2 * kPairs];

__attribute__((noinline)) void* leak_one(long index) {
    return malloc(1000 + (size_t)index);
}

static void push(struct Ring* ring, void* block) {
    const unsigned tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    while (tail - atomic_load_explicit(&ring->head, memory_order_acquire) == kRing)
        sched_yield();
    ring->slots[tail % kRing] = block;
    atomic_store_explicit(&ring->tail, tail + 1, memory_order_release);
}

static void* try_pop(struct Ring* ring) {
    const unsigned head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    if (head == atomic_load_explicit(&ring->tail, memory_order_acquire)) return NULL;
    void* block = ring->slots[head % kRing];
    atomic_store_explicit(&ring->head, head + 1, memory_order_release);
    return block;
}

static void* pop(struct Ring* ring) {
    void* block;
    while ((block = try_pop(ring)) == NULL)
        sched_yield();
    return block;
}

static void* consumer(void* arg) {
    struct Pair* pair = arg;
    for (int i = 0; i < kHandoffs; ++i) {
        free(pop(&pair->to_consumer));
        push(&pair->to_producer, malloc(48 + (size_t)(i % 100)));
    }
    kept[2 * pair->index + 1] = leak_one(2 * pair->index + 1);
    return NULL;
}

static void* producer(void* arg) {
    struct Pair* pair = arg;
    int replies = 0;
    for (int i = 0; i < kHandoffs; ++i) {
        push(&pair->to_consumer, malloc(16 + (size_t)(i % 200)));
        void* reply = try_pop(&pair->to_producer);
        if (reply) {
            free(reply);
            ++replies;
        }
    }
    for (; replies < kHandoffs; ++replies)
        free(pop(&pair->to_producer));
    kept[2 * pair->index] = leak_one(2 * pair->index);
    return NULL;
}

int main(void) {
    static struct Pair pairs[kPairs];
    pthread_t threads[2 * kPairs];
    for (long p = 0; p < kPairs; ++p) {
        pairs[p].index = p;
        if (pthread_create(&threads[2 * p], NULL, producer, &pairs[p]) != 0 ||
            pthread_create(&threads[2 * p + 1], NULL, consumer, &pairs[p]) != 0)
            return 1;
    }
    for (int t = 0; t < 2 * kPairs; ++t)
        pthread_join(threads[t], NULL);
    return 0;
}
