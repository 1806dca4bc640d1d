// The addresses of the live blocks that sampling recorded, so that a free is recorded exactly
// when its block's allocation was (MEMTRACE_SAMPLE_BYTES; docs/design.md, "Sampling").
//
// Lock-free open addressing over 64-bit slots: 0 = empty, 1 = tombstone (a removed key), any
// other value = a live address. Inserts take the first empty slot or tombstone of the probe
// sequence, removals turn the key into a tombstone, and no slot ever becomes empty again, so a
// search may stop at the first empty slot. Probes are bounded (kMaxProbe): a set that cannot
// place a key within that distance reports itself full, and the caller falls back.
//
// In front of it, a filter indexed by another hash of the address: one bit per bucket, set
// while some key of the bucket is in the set. Until init() every bit is set: the free hook asks
// only the filter, which then sends every free on to the hooks' general path (full tracing
// never calls init()). The common case, freeing a block that was not
// sampled, costs one load from a 2 KiB bitmap that stays in the L1 cache even when the app's
// own data thrashes it (byte counters, 16 KiB, missed the L1 on a quarter of churn's frees).
// Each bucket's keys are counted in a byte beside it, touched only when a key comes or goes,
// under a lock (sampled blocks are rare). A counter that reaches 255 stays there (its bucket
// then always asks the table, which is still correct).
//
// An address is inserted by the thread that allocated the block, before the block reaches the
// app, and removed by the free that gives it back, before the allocator can hand it out again;
// so a key is never inserted twice and insert/remove of one key never race.
#pragma once

#include "spin_lock.h"

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

class SampledAddressSet {
public:
    static constexpr unsigned kMaxProbe = 64;
    // The filter is part of the object: a global set addresses it directly, with no pointer to
    // load first.
    static constexpr unsigned kFilterLog2 = 14;

    constexpr SampledAddressSet() {
        for (uint64_t& word : bits_)
            word = ~uint64_t{0};
    }

    // Reserves (without committing) 2^slots_log2 slots; the filter then lets through only the
    // addresses that may be in the set.
    bool init(unsigned slots_log2);
    // Empties the set (the fork child starts a new dump); the filter is as init() left it. Not
    // thread-safe.
    void clear();

    // False if the set has no room for it within kMaxProbe slots (the set is then unchanged).
    bool insert(uint64_t address);

    // False when the address is certainly not in the set (the common case, one load).
    bool may_contain(uint64_t address) const {
        const uint64_t bucket = filter_index(address);
        return (__atomic_load_n(&bits_[bucket / 64], __ATOMIC_RELAXED) >> (bucket % 64)) & 1;
    }

    // Removes the address; true if it was in the set.
    bool remove(uint64_t address) {
        if (__builtin_expect(!may_contain(address), 1)) return false;
        return remove_slow(address);
    }

    // From now on may_contain() answers true for every address (the caller records every free
    // once the set had no room for a key), until clear().
    void saturate_filter();

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

    static constexpr size_t kBuckets = size_t{1} << kFilterLog2;

    uint64_t* slots_ = nullptr;
    uint64_t slot_mask_ = 0;
    unsigned slot_shift_ = 63;
    uint64_t bits_[kBuckets / 64];
    SpinLock filter_lock_; // guards counts_ and the writing of bits_
    bool saturated_ = false;
    uint8_t counts_[kBuckets] = {};
};

} // namespace memtrace::preload
