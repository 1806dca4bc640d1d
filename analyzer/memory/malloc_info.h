// glibc's malloc_info() report, as read from the XML the preload records: one entry per arena
// (<heap nr=...>) and the process-wide totals. Field meanings follow glibc's malloc/malloc.c:
// "fast" and "rest" are free chunks (fastbins; every other bin plus the top chunk), "system"
// is memory the arena got from the kernel, "mmap" the blocks served by their own mmap().
// Chunks cached in a thread's tcache count as in use, as they do in mallinfo2().
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace memtrace::memory {

class MallocInfoError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ArenaUsage {
    uint32_t number = 0;      // nr="..." (0 is the main arena)
    uint64_t fast_chunks = 0; // free chunks in fastbins
    uint64_t fast_bytes = 0;
    uint64_t rest_chunks = 0; // other free chunks, including the top chunk
    // As glibc prints it, the size of each binned chunk still has its PREV_INUSE bit (one byte
    // too many per chunk; mallinfo2() masks it). read_heap() takes that byte off again.
    uint64_t rest_bytes = 0;
    uint64_t system_bytes = 0; // current
    uint64_t max_system_bytes = 0;
    uint64_t subheaps = 0; // heaps of a thread arena (each a 64 MiB reservation); 0 for main
    // Free chunks smaller than a page (from <sizes>): no trim can hand any of their bytes back,
    // because the kernel takes memory back only in whole pages.
    uint64_t small_free_chunks = 0;
    uint64_t small_free_bytes = 0;

    uint64_t free_bytes() const {
        return fast_bytes + rest_bytes;
    }
    uint64_t free_chunks() const {
        return fast_chunks + rest_chunks;
    }
    // Chunks handed out (with their headers), and chunks cached in tcaches.
    uint64_t in_use_bytes() const {
        return system_bytes > free_bytes() ? system_bytes - free_bytes() : 0;
    }
};

struct MallocInfo {
    std::vector<ArenaUsage> arenas; // in document order (glibc lists the main arena first)
    uint64_t mmapped_chunks = 0;    // blocks served by their own mmap
    uint64_t mmapped_bytes = 0;

    uint64_t system_bytes() const;
    uint64_t free_bytes() const;
    uint64_t free_chunks() const;
    uint64_t in_use_bytes() const;
    // Heaps of the thread arenas: the 64 MiB address-space reservations they live in.
    uint64_t subheaps() const;
    uint64_t small_free_bytes() const;
    uint64_t small_free_chunks() const;
};

// Chunks below this size hold no whole page.
inline constexpr uint64_t kSmallChunkLimit = 4096;

// Parses malloc_info(0, ...) output. Throws MallocInfoError with what is wrong and where.
MallocInfo parse_malloc_info(std::string_view xml);

} // namespace memtrace::memory
