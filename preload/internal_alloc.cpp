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

} // namespace

void* reserve_pages(size_t size) {
    void* p = raw_mmap(nullptr, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
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
