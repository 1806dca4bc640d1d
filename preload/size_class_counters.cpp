#include "size_class_counters.h"

#include "chunk_writer.h"
#include "internal_alloc.h"
#include "spin_lock.h"
#include "thread_state.h"

#include <pthread.h>
#include <string.h>

namespace memtrace::preload {

namespace {

constinit SpinLock g_lock;
constinit SizeClassBlock* g_all = nullptr;
constinit SizeClassBlock* g_free = nullptr;
// Counts of threads that exited, folded in when their block was recycled.
constinit format::SizeClassCounts g_retired[format::kSizeClassCount] = {};
constinit pthread_key_t g_exit_key = 0;
constinit bool g_have_key = false;

void add_counts(format::SizeClassCounts* into, const format::SizeClassCounts* from) {
    for (uint32_t i = 0; i < format::kSizeClassCount; ++i) {
        into[i].count += __atomic_load_n(&from[i].count, __ATOMIC_RELAXED);
        into[i].requested_bytes += __atomic_load_n(&from[i].requested_bytes, __ATOMIC_RELAXED);
        into[i].usable_bytes += __atomic_load_n(&from[i].usable_bytes, __ATOMIC_RELAXED);
        into[i].free_count += __atomic_load_n(&from[i].free_count, __ATOMIC_RELAXED);
        into[i].freed_usable_bytes +=
            __atomic_load_n(&from[i].freed_usable_bytes, __ATOMIC_RELAXED);
    }
}

// Thread exit: keep the counts, recycle the block for the next thread.
void on_thread_exit(void* value) {
    auto* block = static_cast<SizeClassBlock*>(value);
    SpinLockGuard guard(g_lock);
    add_counts(g_retired, block->classes);
    memset(block->classes, 0, sizeof(block->classes));
    block->next_free = g_free;
    g_free = block;
    if (t_thread.size_classes == block) t_thread.size_classes = nullptr;
}

} // namespace

bool size_class_counters_init() {
    g_have_key = pthread_key_create(&g_exit_key, on_thread_exit) == 0;
    return g_have_key;
}

SizeClassBlock* size_class_block_slow() {
    SizeClassBlock* block = nullptr;
    {
        SpinLockGuard guard(g_lock);
        if (g_free) {
            block = g_free;
            g_free = block->next_free;
        }
    }
    if (!block) {
        block = static_cast<SizeClassBlock*>(internal_alloc(sizeof(SizeClassBlock)));
        if (!block) return nullptr;
        SpinLockGuard guard(g_lock);
        block->next = g_all;
        g_all = block;
    }
    // The key's destructor runs at pthread_exit (not for the main thread, whose block simply
    // stays). setspecific with a low key index does not allocate.
    if (g_have_key) pthread_setspecific(g_exit_key, block);
    t_thread.size_classes = block;
    return block;
}

void count_alloc(SizeClassBlock* block, uint64_t size, uint64_t usable) {
    format::SizeClassCounts& c = block->classes[format::size_class_index(size)];
    bump(c.count, 1);
    bump(c.requested_bytes, size);
    bump(c.usable_bytes, usable);
}

void count_free(SizeClassBlock* block, uint64_t usable) {
    format::SizeClassCounts& c = block->classes[format::size_class_index(usable)];
    bump(c.free_count, 1);
    bump(c.freed_usable_bytes, usable);
}

void sum_size_classes(format::SizeClassCounts* out) {
    memset(out, 0, sizeof(format::SizeClassCounts) * format::kSizeClassCount);
    SpinLockGuard guard(g_lock);
    add_counts(out, g_retired);
    for (SizeClassBlock* block = g_all; block; block = block->next)
        add_counts(out, block->classes);
}

bool emit_size_class_totals(uint64_t now) {
    format::SizeClassCounts sums[format::kSizeClassCount];
    sum_size_classes(sums);
    ChunkCursor& cursor = t_thread.cursor;
    uint8_t* out = chunk_reserve(cursor, format::kMaxSizeClassTotalsRecord, now);
    if (!out) return false;
    out = format::encode_size_class_totals(out, chunk_time_delta(cursor, now), sums,
                                           format::kSizeClassCount);
    chunk_commit(cursor, out);
    return true;
}

void size_class_counters_reset_after_fork(SizeClassBlock* survivor) {
    g_lock.reset();
    memset(g_retired, 0, sizeof(g_retired));
    g_free = nullptr;
    for (SizeClassBlock* block = g_all; block; block = block->next) {
        memset(block->classes, 0, sizeof(block->classes));
        if (block != survivor) {
            block->next_free = g_free;
            g_free = block;
        }
    }
}

} // namespace memtrace::preload
