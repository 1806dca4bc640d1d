// Anonymous memory the program mapped itself (mmap/munmap/mremap calls seen by the preload's
// hooks): which regions are mapped at a given moment, and which stacks mapped them. glibc's own
// mmap calls for large blocks and thread arenas bypass the hooks; malloc_info covers those.
#pragma once

#include "dump_reader.h"

#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

namespace memtrace::memory {

// The kernel maps whole pages. The dump does not record the page size; 4 KiB is the x86-64 and
// common arm64 size.
inline constexpr uint64_t kPageSize = 4096;

struct MappedRegion {
    uint64_t end = 0; // one past the last byte
    uint32_t stack_id = format::kNoStack;
};

// What one mapping stack did, and how much of it is still mapped.
struct MappingSite {
    uint32_t stack_id = format::kNoStack;
    uint64_t live_bytes = 0;
    uint64_t live_regions = 0;
    uint64_t maps = 0;                    // Map (and Remap) calls from this stack so far
    uint64_t bytes_mapped = 0;            // their lengths, summed
    std::map<uint64_t, uint64_t> lengths; // length -> how many Map calls asked for it
};

class AnonymousMappings {
public:
    // Events must come in time order.
    void apply(const MemoryMapEvent& event);

    const std::map<uint64_t, MappedRegion>& regions() const { // by start address
        return regions_;
    }
    uint64_t live_bytes() const {
        return live_bytes_;
    }
    // Every stack that mapped something, largest live bytes first (ties: more bytes mapped,
    // then lower stack id).
    std::vector<MappingSite> sites() const;

private:
    void remove_range(uint64_t start, uint64_t end);
    void add_region(uint64_t start, uint64_t end, uint32_t stack_id);
    // The stack of a tracked region overlapping [start, end), or nullopt-like kNoStack + false.
    bool overlaps(uint64_t start, uint64_t end, uint32_t* stack_id) const;

    std::map<uint64_t, MappedRegion> regions_;
    uint64_t live_bytes_ = 0;
    struct CallTotals {
        uint64_t maps = 0;
        uint64_t bytes = 0;
        std::map<uint64_t, uint64_t> lengths;
    };
    std::unordered_map<uint32_t, CallTotals> calls_;
};

} // namespace memtrace::memory
