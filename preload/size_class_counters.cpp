#include "size_class_counters.h"

#include "chunk_writer.h"
#include "internal_alloc.h"
#include "spin_lock.h"
#include "thread_state.h"
#include "usable_size.h"

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

void add_counts(format::SizeClassCounts* into, const SizeClassBlock* from) {
    for (uint32_t i = 0; i < format::kSizeClassCount; ++i) {
        const AllocCounts& a = from->allocs[i];
        const FreeCounts& f = from->frees[i];
        into[i].count += __atomic_load_n(&a.count, __ATOMIC_RELAXED);
        into[i].requested_bytes += __atomic_load_n(&a.requested_bytes, __ATOMIC_RELAXED);
        into[i].usable_bytes += __atomic_load_n(&a.usable_bytes, __ATOMIC_RELAXED);
        into[i].free_count += __atomic_load_n(&f.count, __ATOMIC_RELAXED);
        into[i].freed_usable_bytes += __atomic_load_n(&f.usable_bytes, __ATOMIC_RELAXED);
    }
    for (size_t size = 1; size <= kCountedBySizeMax; ++size) {
        const uint64_t count = __atomic_load_n(&from->by_size[size], __ATOMIC_RELAXED);
        if (!count) continue;
        format::SizeClassCounts& c = into[format::size_class_index(size)];
        c.count += count;
        c.requested_bytes += count * size;
        c.usable_bytes += count * glibc_heap_usable_size(size);
    }
}

void clear_counts(SizeClassBlock* block) {
    memset(block->allocs, 0, sizeof(block->allocs));
    memset(block->frees, 0, sizeof(block->frees));
    memset(block->by_size, 0, sizeof(block->by_size));
}

// Thread exit: keep the counts, recycle the block for the next thread.
void on_thread_exit(void* value) {
    auto* block = static_cast<SizeClassBlock*>(value);
    SpinLockGuard guard(g_lock);
    add_counts(g_retired, block);
    clear_counts(block);
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
        // internal_alloc aligns to 16; the block wants a cache line of its own.
        void* memory = internal_alloc(sizeof(SizeClassBlock) + alignof(SizeClassBlock));
        if (!memory) return nullptr;
        const auto address = reinterpret_cast<uintptr_t>(memory);
        block = reinterpret_cast<SizeClassBlock*>((address + alignof(SizeClassBlock) - 1) &
                                                  ~uintptr_t{alignof(SizeClassBlock) - 1});
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

void sum_size_classes(format::SizeClassCounts* out) {
    memset(out, 0, sizeof(format::SizeClassCounts) * format::kSizeClassCount);
    SpinLockGuard guard(g_lock);
    for (uint32_t i = 0; i < format::kSizeClassCount; ++i) {
        out[i].count += g_retired[i].count;
        out[i].requested_bytes += g_retired[i].requested_bytes;
        out[i].usable_bytes += g_retired[i].usable_bytes;
        out[i].free_count += g_retired[i].free_count;
        out[i].freed_usable_bytes += g_retired[i].freed_usable_bytes;
    }
    for (SizeClassBlock* block = g_all; block; block = block->next)
        add_counts(out, block);
}

bool emit_size_class_totals(uint64_t now) {
    format::SizeClassCounts sums[format::kSizeClassCount];
    sum_size_classes(sums);
    return emit_size_class_totals(now, sums);
}

bool emit_size_class_totals(uint64_t now, const format::SizeClassCounts* sums) {
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
        clear_counts(block);
        if (block != survivor) {
            block->next_free = g_free;
            g_free = block;
        }
    }
}

} // namespace memtrace::preload
