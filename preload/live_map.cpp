#include "live_map.h"

#include "internal_alloc.h"

#include <algorithm>
#include <sched.h>

namespace memtrace::preload {

constinit LiveMap g_live_map;

uint8_t* LiveMap::create_leaf(uint64_t address) {
    // Once incomplete, the scan will not run: no more leaves (nor a system call per block).
    if (!complete()) return nullptr;
    const uint64_t region = address >> kRegionShift;
    if (region >= kRegionCount || (address & granule_mask())) {
        mark_incomplete();
        return nullptr;
    }
    // A lock for the rare creation (a few per process): two threads may meet on a new region.
    while (__atomic_exchange_n(&lock_, 1, __ATOMIC_ACQUIRE))
        sched_yield();
    uint8_t* leaf = __atomic_load_n(&leaves_[region], __ATOMIC_ACQUIRE);
    if (!leaf) {
        const uint32_t slot = leaf_count_;
        // memtrace's own memory: the scan does not read the map as a root.
        if (slot < kMaxLeaves)
            leaf = static_cast<uint8_t*>(reserve_pages(2 * kLeafBytes + kLeafPages));
        if (leaf) {
            __atomic_store_n(&leaves_[region], leaf, __ATOMIC_RELEASE);
            __atomic_store_n(&leaf_regions_[slot], static_cast<uint32_t>(region + 1),
                             __ATOMIC_RELEASE);
            __atomic_store_n(&leaf_count_, slot + 1, __ATOMIC_RELEASE);
        } else {
            mark_incomplete(); // no room in the list, or no memory
        }
    }
    __atomic_store_n(&lock_, 0, __ATOMIC_RELEASE);
    return leaf;
}

uint8_t* LiveMap::byte_after(uint8_t* map, size_t granule, uint64_t address, size_t offset) const {
    if (granule + offset < granules()) return map + granule + offset;
    // Past the leaf's end: the next region's leaf (a block straddling two regions).
    const uint64_t next = address + (uint64_t{offset} << shift_);
    uint8_t* leaf = leaf_for(next);
    return leaf ? leaf + ((next & kRegionMask) >> shift_) : nullptr;
}

void LiveMap::write_size(uint8_t* map, size_t granule, uint64_t address, uint64_t size) {
    if (__builtin_expect(granule + 8 < granules(), 1)) {
        memcpy(map + granule + 1, &size, sizeof(size));
        return;
    }
    uint8_t bytes[8];
    memcpy(bytes, &size, sizeof(size));
    for (size_t i = 0; i < 8; ++i) {
        uint8_t* b = byte_after(map, granule, address, i + 1);
        if (!b) {
            const uint64_t next = address + (uint64_t{i + 1} << shift_);
            if (!create_leaf(next)) return;
            b = byte_after(map, granule, address, i + 1);
        }
        __atomic_store_n(b, bytes[i], __ATOMIC_RELAXED);
    }
}

uint64_t LiveMap::take_size(uint8_t* map, size_t granule, uint64_t address) {
    uint64_t size = 0;
    if (__builtin_expect(granule + 8 < granules(), 1)) {
        memcpy(&size, map + granule + 1, sizeof(size));
        memset(map + granule + 1, 0, sizeof(size));
        return size;
    }
    uint8_t bytes[8] = {};
    for (size_t i = 0; i < 8; ++i) {
        if (uint8_t* b = byte_after(map, granule, address, i + 1)) {
            bytes[i] = __atomic_load_n(b, __ATOMIC_RELAXED);
            __atomic_store_n(b, 0, __ATOMIC_RELAXED);
        }
    }
    memcpy(&size, bytes, sizeof(size));
    return size;
}

size_t LiveMap::sorted_regions(uint32_t* regions) const {
    size_t count = __atomic_load_n(&leaf_count_, __ATOMIC_ACQUIRE);
    if (count > kMaxLeaves) count = kMaxLeaves;
    size_t n = 0;
    for (size_t i = 0; i < count; ++i) {
        const uint32_t entry = __atomic_load_n(&leaf_regions_[i], __ATOMIC_ACQUIRE);
        if (entry) regions[n++] = entry - 1;
    }
    std::sort(regions, regions + n);
    return n;
}

} // namespace memtrace::preload
