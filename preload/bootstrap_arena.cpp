#include "bootstrap_arena.h"

#include "sampled_block.h"

#include <stdint.h>

namespace memtrace::preload {
namespace {

constexpr size_t kArenaSize = kBootstrapArenaSize;
// Before each block: its size, then the word that marks a sampled block's header, so that the
// free hook's sampled path (sampled_block.h) is the only one that needs to ask bootstrap_owns().
constexpr size_t kHeader = 16;

constinit size_t g_used = 0;

} // namespace

alignas(64) constinit unsigned char g_bootstrap_arena[kBootstrapArenaSize]{};

void* bootstrap_alloc(size_t size, size_t alignment) {
    if (alignment < 16) alignment = 16;
    if (size > kArenaSize) return nullptr;
    size_t start = __atomic_load_n(&g_used, __ATOMIC_RELAXED);
    size_t block;
    size_t end;
    do {
        block = (start + kHeader + alignment - 1) & ~(alignment - 1);
        end = block + size;
        if (end > kArenaSize) return nullptr;
    } while (!__atomic_compare_exchange_n(&g_used, &start, end, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    auto* header = reinterpret_cast<uint64_t*>(g_bootstrap_arena + block - kHeader);
    header[0] = size;
    header[1] = kSampledBlockMagic;
    return g_bootstrap_arena + block;
}

size_t bootstrap_size(const void* p) {
    return *reinterpret_cast<const size_t*>(static_cast<const uint8_t*>(p) - kHeader);
}

} // namespace memtrace::preload
