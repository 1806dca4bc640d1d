// The addresses of the live blocks that sampling recorded, so that a free is recorded exactly
// when its block's allocation was (MEMTRACE_SAMPLE_BYTES; docs/design.md, "Sampling").
//
// Lock-free open addressing over 64-bit slots: 0 = empty, 1 = tombstone (a removed key), any
// other value = a live address. Inserts take the first empty slot or tombstone of the probe
// sequence, removals turn the key into a tombstone, and no slot ever becomes empty again, so a
// search may stop at the first empty slot. Probes are bounded (kMaxProbe): a set that cannot
// place a key within that distance reports itself full, and the caller falls back.
//
// In front of it, a filter of byte counters indexed by another hash of the address counts the
// keys of each filter bucket: the common case, freeing a block that was not sampled, costs one
// load of a zero byte from a table small enough to stay in the L1 cache. A counter that reaches
// 255 stays there (its bucket then always asks the table, which is still correct).
//
// An address is inserted by the thread that allocated the block, before the block reaches the
// app, and removed by the free that gives it back, before the allocator can hand it out again;
// so a key is never inserted twice and insert/remove of one key never race.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

class SampledAddressSet {
public:
    static constexpr unsigned kMaxProbe = 64;
    // 16 KiB of filter, part of the object: a global set addresses it directly, with no pointer
    // to load first, and it stays in the L1 cache.
    static constexpr unsigned kFilterLog2 = 14;

    // Reserves (without committing) 2^slots_log2 slots.
    bool init(unsigned slots_log2);
    // Empties the set (the fork child starts a new dump). Not thread-safe.
    void clear();

    // False if the set has no room for it within kMaxProbe slots (the set is then unchanged).
    bool insert(uint64_t address);

    // Removes the address; true if it was in the set.
    bool remove(uint64_t address) {
        if (__builtin_expect(
                __atomic_load_n(&filter_[filter_index(address)], __ATOMIC_RELAXED) == 0, 1))
            return false;
        return remove_slow(address);
    }

    bool contains(uint64_t address) const;

    bool ready() const {
        return slots_ != nullptr;
    }

private:
    static constexpr uint64_t kEmpty = 0;
    static constexpr uint64_t kTombstone = 1;

    uint64_t home(uint64_t address) const {
        return (address * 0x9e3779b97f4a7c15ull) >> slot_shift_;
    }
    uint64_t filter_index(uint64_t address) const {
        return ((address >> 4) * 0xbf58476d1ce4e5b9ull) >> (64 - kFilterLog2);
    }
    bool remove_slow(uint64_t address);
    void filter_add(uint64_t address);
    void filter_remove(uint64_t address);

    uint64_t* slots_ = nullptr;
    uint64_t slot_mask_ = 0;
    unsigned slot_shift_ = 63;
    uint8_t filter_[size_t{1} << kFilterLog2] = {};
};

} // namespace memtrace::preload
