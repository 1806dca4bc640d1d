#include "internal_alloc.h"

#include "raw_syscalls.h"
#include "spin_lock.h"

#include <stdint.h>
#include <sys/mman.h>

namespace memtrace::preload {
namespace {

constexpr size_t kBlockSize = 1 << 20;

constinit SpinLock g_lock;
constinit uint8_t* g_block = nullptr;
constinit size_t g_used = kBlockSize;

// Registry of reserve_pages regions: slots are claimed with an atomic counter and published by
// writing `end` last, so a reader skips a slot whose end is still 0.
constexpr size_t kMaxRegions = 1024;
constinit MemoryRegion g_regions[kMaxRegions] = {};
constinit size_t g_region_count = 0;

void remember_region(void* p, size_t size) {
    const size_t slot = __atomic_fetch_add(&g_region_count, 1, __ATOMIC_RELAXED);
    if (slot >= kMaxRegions) return;
    const auto begin = reinterpret_cast<uintptr_t>(p);
    g_regions[slot].begin = begin;
    __atomic_store_n(&g_regions[slot].end, begin + size, __ATOMIC_RELEASE);
}

} // namespace

void* reserve_pages(size_t size) {
    void* p = raw_mmap(nullptr, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    remember_region(p, size);
    return p;
}

size_t own_memory_regions(MemoryRegion* out, size_t max) {
    size_t count = __atomic_load_n(&g_region_count, __ATOMIC_RELAXED);
    if (count > kMaxRegions) count = kMaxRegions;
    size_t copied = 0;
    for (size_t i = 0; i < count && copied < max; ++i) {
        const uintptr_t end = __atomic_load_n(&g_regions[i].end, __ATOMIC_ACQUIRE);
        if (end == 0) continue;
        out[copied++] = MemoryRegion{g_regions[i].begin, end};
    }
    return copied;
}

void* internal_alloc(size_t size) {
    size = (size + 15) & ~size_t{15};
    if (size > kBlockSize / 4) return reserve_pages(size);
    SpinLockGuard guard(g_lock);
    if (g_used + size > kBlockSize) {
        auto* block = static_cast<uint8_t*>(reserve_pages(kBlockSize));
        if (!block) return nullptr;
        g_block = block;
        g_used = 0;
    }
    void* p = g_block + g_used;
    g_used += size;
    return p;
}

} // namespace memtrace::preload
