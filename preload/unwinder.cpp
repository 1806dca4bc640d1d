#define UNW_LOCAL_ONLY
#include "unwinder.h"

#include "memtrace/dump_format.h"

#include <libunwind.h>
#include <link.h>
#include <string.h>

namespace memtrace::preload {
namespace {

// memtrace's own executable code, whose frames are dropped from the top of each stack.
uint64_t g_own_start = 0;
uint64_t g_own_end = 0;

int find_own_range(dl_phdr_info* info, size_t, void* data) {
    const auto marker = reinterpret_cast<uint64_t>(data);
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
        const uint64_t start = info->dlpi_addr + ph.p_vaddr;
        const uint64_t end = start + ph.p_memsz;
        if (marker >= start && marker < end) {
            g_own_start = start;
            g_own_end = end;
            return 1;
        }
    }
    return 0;
}

} // namespace

void unwinder_init() {
    // Per-thread caches: no lock shared between threads while unwinding.
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    dl_iterate_phdr(find_own_range, reinterpret_cast<void*>(&unwinder_init));
}

uint32_t capture_stack(uint64_t* frames, uint32_t max_depth, bool* truncated) {
    // Room for our own frames on top, and one more to tell a full stack from a deeper one.
    constexpr uint32_t kOwnFramesRoom = 8;
    void** raw = reinterpret_cast<void**>(frames);
    int count = unw_backtrace(raw, static_cast<int>(max_depth + kOwnFramesRoom + 1));
    if (count <= 0) {
        *truncated = false;
        return 0;
    }
    uint32_t skip = 0;
    while (skip < static_cast<uint32_t>(count) && frames[skip] >= g_own_start &&
           frames[skip] < g_own_end) {
        ++skip;
    }
    uint32_t depth = static_cast<uint32_t>(count) - skip;
    *truncated =
        depth > max_depth || static_cast<uint32_t>(count) == max_depth + kOwnFramesRoom + 1;
    if (depth > max_depth) depth = max_depth;
    if (skip) memmove(frames, frames + skip, depth * sizeof(uint64_t));
    return depth;
}

} // namespace memtrace::preload
