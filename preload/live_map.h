// The live blocks, kept by the hooks so that the leak scan at exit knows them without reading
// the dump back: one byte per granule of address space (16 bytes with glibc's allocator, whose
// blocks are 16-byte aligned; 8 with another, as jemalloc and tcmalloc hand out 8-byte aligned
// blocks), set when a recorded block starts there and cleared when it is freed. Replaying the dump
// at exit cost a program with millions of blocks live at its peak up to a third of its run time (a
// table of every live block, a cache miss per event); a byte store per event costs next to nothing
// (docs/design.md, "Leak scan").
//
// The byte holds the block's requested size + 1 for sizes up to kMaxSmall; a larger block has
// kLarge and its size in the eight bytes after it: those granules lie inside the block, where no
// other block can start while it lives. The map is two-level: a leaf covers 256 MiB of address
// space and is reserved (not committed) on the first block there, so it costs 1/16 (or 1/8) of
// the heap's touched pages. A leaf also has one byte per page of map, set by every add,
// so that the scan reads only the map pages that ever held a block. After those, one byte per
// granule holds the tag of the thread that last allocated or freed a block starting there
// (thread_tags.h), written only while the program has more than one thread.
//
// Blocks are added after the real allocator returned them and taken before they go back, so a
// granule's byte has one writer at a time: the allocator's own synchronization orders them.
#pragma once

#include "hidden.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace memtrace::preload {

class LiveMap {
public:
    static constexpr unsigned kSmallestGranuleShift = 3;
    static constexpr unsigned kRegionShift = 28;
    static constexpr unsigned kAddressBits = 48;
    // Room for the smallest granule; with 16-byte granules a leaf uses the first half.
    static constexpr size_t kLeafBytes = size_t{1} << (kRegionShift - kSmallestGranuleShift);
    static constexpr size_t kMapPageShift = 12;
    static constexpr size_t kLeafPages = kLeafBytes >> kMapPageShift;
    static constexpr size_t kRegionCount = size_t{1} << (kAddressBits - kRegionShift);
    static constexpr size_t kMaxLeaves = 1024;
    static constexpr uint64_t kMaxSmall = 253;
    static constexpr uint8_t kLarge = 255;

    // Kept only when the scan will run (MEMTRACE_LEAK_SCAN, full tracing): set at start, with
    // log2 of the granule (3 or 4: the allocator's alignment).
    void enable(unsigned granule_shift) {
        shift_ = granule_shift;
        on_ = true;
    }

    // A block the app got; recorded, so the scan will know it.
    void add(uint64_t address, uint64_t size) {
        if (!on_) return;
        uint8_t* map = leaf_for(address);
        if (__builtin_expect(map == nullptr || (address & granule_mask()), 0)) {
            map = create_leaf(address); // or marks the map incomplete
            if (!map) return;
        }
        const size_t granule = (address & kRegionMask) >> shift_;
        __atomic_store_n(&map[kLeafBytes + (granule >> kMapPageShift)], 1, __ATOMIC_RELAXED);
        if (__builtin_expect(size <= kMaxSmall, 1)) {
            __atomic_store_n(&map[granule], static_cast<uint8_t>(size + 1), __ATOMIC_RELAXED);
        } else {
            __atomic_store_n(&map[granule], kLarge, __ATOMIC_RELAXED);
            write_size(map, granule, address, size);
        }
    }

    // Removes the block at address (before it goes back to the allocator). Returns its size + 1,
    // 0 if no block was known there; add(address, result - 1) undoes it.
    uint64_t take(uint64_t address) {
        if (!on_) return 0;
        uint8_t* map = leaf_for(address);
        if (!map) return 0;
        const size_t granule = (address & kRegionMask) >> shift_;
        const uint8_t entry = __atomic_load_n(&map[granule], __ATOMIC_RELAXED);
        if (entry == 0) return 0;
        __atomic_store_n(&map[granule], 0, __ATOMIC_RELAXED);
        if (__builtin_expect(entry != kLarge, 1)) return entry;
        return take_size(map, granule, address) + 1;
    }

    // Puts the calling thread's tag on the granule at address; returns the tag it replaced
    // (kNoThreadTag when unknown). Like add and take, ordered by the allocator.
    uint8_t exchange_tag(uint64_t address, uint8_t tag) {
        if (!on_) return 0;
        uint8_t* map = leaf_for(address);
        if (!map) return 0;
        uint8_t* slot = map + kLeafBytes + kLeafPages + ((address & kRegionMask) >> shift_);
        const uint8_t previous = __atomic_load_n(slot, __ATOMIC_RELAXED);
        __atomic_store_n(slot, tag, __ATOMIC_RELAXED);
        return previous;
    }

    // False once a block could not be entered (an address beyond the map, a misaligned block,
    // no memory for a leaf): the scan must not trust the map then.
    bool complete() const {
        return !__atomic_load_n(&incomplete_, __ATOMIC_ACQUIRE);
    }

    // Calls visit(address, size) for every block, in address order. Another thread may change
    // the map meanwhile: a block is then seen or not, and a large block's size may be torn (it is
    // checked against the address space; the scan rechecks every block at its end). `regions` is
    // scratch room for kMaxLeaves entries.
    template <typename Visit> void for_each(uint32_t* regions, Visit&& visit) const;

    // The fork child: the thread that held the lock was not copied.
    void reset_lock_after_fork() {
        lock_ = 0;
    }

private:
    static constexpr uint64_t kRegionMask = (uint64_t{1} << kRegionShift) - 1;

    uint64_t granule_mask() const {
        return (uint64_t{1} << shift_) - 1;
    }
    // Granules of a leaf in use.
    size_t granules() const {
        return size_t{1} << (kRegionShift - shift_);
    }
    using Word = uint64_t __attribute__((may_alias));

    uint8_t* leaf_for(uint64_t address) const {
        const uint64_t region = address >> kRegionShift;
        if (__builtin_expect(region >= kRegionCount, 0)) return nullptr;
        return __atomic_load_n(&leaves_[region], __ATOMIC_ACQUIRE);
    }
    [[gnu::cold]] uint8_t* create_leaf(uint64_t address);
    void write_size(uint8_t* map, size_t granule, uint64_t address, uint64_t size);
    uint64_t take_size(uint8_t* map, size_t granule, uint64_t address);
    // The byte of the granule `offset` granules after `address` (nullptr if it has no leaf).
    uint8_t* byte_after(uint8_t* map, size_t granule, uint64_t address, size_t offset) const;
    void mark_incomplete() {
        __atomic_store_n(&incomplete_, true, __ATOMIC_RELEASE);
    }
    size_t sorted_regions(uint32_t* regions) const;

    bool on_ = false;
    unsigned shift_ = 4;
    // A leaf: kLeafBytes of map, kLeafPages bytes saying which map pages were written, then
    // kLeafBytes of thread tags.
    uint8_t* leaves_[kRegionCount] = {};
    // Regions that have a leaf, + 1 (0: a slot being filled), in creation order.
    uint32_t leaf_regions_[kMaxLeaves] = {};
    uint32_t leaf_count_ = 0;
    int lock_ = 0;
    bool incomplete_ = false;
};

// The process's map (full tracing only; a sampled run leaves it empty).
extern MEMTRACE_HIDDEN constinit LiveMap g_live_map;

template <typename Visit> void LiveMap::for_each(uint32_t* regions, Visit&& visit) const {
    const size_t count = sorted_regions(regions);
    uint64_t resume = 0; // no block starts below the end of the previous one
    for (size_t r = 0; r < count; ++r) {
        const uint64_t base = uint64_t{regions[r]} << kRegionShift;
        const uint8_t* map = __atomic_load_n(&leaves_[regions[r]], __ATOMIC_ACQUIRE);
        if (!map) continue;
        const uint8_t* pages = map + kLeafBytes;
        size_t granule = resume > base ? (resume - base) >> shift_ : 0;
        while (granule < granules()) {
            const size_t page = granule >> kMapPageShift;
            if (!__atomic_load_n(&pages[page], __ATOMIC_RELAXED)) {
                granule = (page + 1) << kMapPageShift;
                continue;
            }
            const size_t page_end = (page + 1) << kMapPageShift;
            while (granule < page_end && (granule & 7)) {
                if (map[granule]) break;
                ++granule;
            }
            // Eight granules at a time over the empty stretches.
            while (!(granule & 7) && granule + 8 <= page_end &&
                   __atomic_load_n(reinterpret_cast<const Word*>(map + granule),
                                   __ATOMIC_RELAXED) == 0)
                granule += 8;
            if (granule >= page_end) continue;
            const uint8_t entry = __atomic_load_n(&map[granule], __ATOMIC_RELAXED);
            if (entry == 0) {
                ++granule;
                continue;
            }
            const uint64_t address = base + (uint64_t{granule} << shift_);
            uint64_t size = entry - 1u;
            if (entry == kLarge) {
                uint8_t bytes[8];
                bool whole = true;
                for (size_t i = 0; i < 8; ++i) {
                    const uint8_t* b =
                        byte_after(const_cast<uint8_t*>(map), granule, address, i + 1);
                    if (!b) whole = false;
                    bytes[i] = b ? __atomic_load_n(b, __ATOMIC_RELAXED) : 0;
                }
                memcpy(&size, bytes, sizeof(size));
                if (!whole || size <= kMaxSmall || size > (uint64_t{1} << kAddressBits) - address) {
                    ++granule; // torn by a free meanwhile
                    continue;
                }
            }
            visit(address, size);
            resume = address + (size ? size : 1);
            const uint64_t next = (resume + granule_mask()) & ~granule_mask();
            if (next - base >= (uint64_t{1} << kRegionShift)) break;
            granule = (next - base) >> shift_;
        }
    }
}

} // namespace memtrace::preload
