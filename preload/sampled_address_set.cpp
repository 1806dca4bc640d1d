#include "sampled_address_set.h"

#include "internal_alloc.h"

#include <string.h>
#include <sys/mman.h>

namespace memtrace::preload {

bool SampledAddressSet::init(unsigned slots_log2) {
    slots_ = static_cast<uint64_t*>(reserve_pages((size_t{1} << slots_log2) * sizeof(uint64_t)));
    if (!slots_) return false;
    slot_mask_ = (uint64_t{1} << slots_log2) - 1;
    slot_shift_ = 64 - slots_log2;
    memset(bits_, 0, sizeof(bits_));
    return true;
}

void SampledAddressSet::clear() {
    filter_lock_.reset(); // the fork child: the owner may be a thread that was not copied
    saturated_ = false;
    memset(counts_, 0, sizeof(counts_));
    if (!slots_) return;
    memset(bits_, 0, sizeof(bits_));
    // MADV_DONTNEED on private anonymous memory gives zero pages back: empty slots.
    madvise(slots_, (slot_mask_ + 1) * sizeof(uint64_t), MADV_DONTNEED);
}

namespace {
constexpr uint8_t kStuck = 255; // a saturated counter: never decremented again
} // namespace

// The bit is set before the key becomes findable and cleared only when the bucket's last key is
// gone; the free of a key comes after its insert returned, so it always finds the bit set.
void SampledAddressSet::filter_add(uint64_t address) {
    const uint64_t bucket = filter_index(address);
    SpinLockGuard guard(filter_lock_);
    if (counts_[bucket] != kStuck) ++counts_[bucket];
    __atomic_fetch_or(&bits_[bucket / 64], uint64_t{1} << (bucket % 64), __ATOMIC_RELAXED);
}

void SampledAddressSet::filter_remove(uint64_t address) {
    const uint64_t bucket = filter_index(address);
    SpinLockGuard guard(filter_lock_);
    uint8_t& count = counts_[bucket];
    if (count == kStuck || count == 0) return;
    if (--count == 0 && !saturated_)
        __atomic_fetch_and(&bits_[bucket / 64], ~(uint64_t{1} << (bucket % 64)), __ATOMIC_RELAXED);
}

void SampledAddressSet::saturate_filter() {
    SpinLockGuard guard(filter_lock_);
    saturated_ = true;
    for (uint64_t& word : bits_)
        __atomic_store_n(&word, ~uint64_t{0}, __ATOMIC_RELAXED);
}

bool SampledAddressSet::insert(uint64_t address) {
    if (!slots_ || address <= kTombstone) return false;
    // Counted first: a concurrent free of a *different* address in the same bucket only pays a
    // probe, and the count is never low while the key is findable.
    filter_add(address);
    uint64_t index = home(address);
    for (unsigned probe = 0; probe < kMaxProbe; ++probe, index = (index + 1) & slot_mask_) {
        uint64_t slot = __atomic_load_n(&slots_[index], __ATOMIC_RELAXED);
        if (slot != kEmpty && slot != kTombstone) continue;
        if (__atomic_compare_exchange_n(&slots_[index], &slot, address, false, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED)) {
            return true;
        }
        // Another insert took it; go on.
    }
    filter_remove(address);
    return false;
}

bool SampledAddressSet::remove_slow(uint64_t address) {
    if (!slots_ || address <= kTombstone) return false;
    uint64_t index = home(address);
    for (unsigned probe = 0; probe < kMaxProbe; ++probe, index = (index + 1) & slot_mask_) {
        uint64_t slot = __atomic_load_n(&slots_[index], __ATOMIC_ACQUIRE);
        if (slot == kEmpty) return false; // slots never become empty again: the chain ends here
        if (slot != address) continue;
        // Only the free of this block removes it, so the exchange cannot lose to another remove.
        __atomic_store_n(&slots_[index], kTombstone, __ATOMIC_RELEASE);
        filter_remove(address);
        return true;
    }
    return false;
}

bool SampledAddressSet::contains(uint64_t address) const {
    if (!slots_ || address <= kTombstone) return false;
    uint64_t index = home(address);
    for (unsigned probe = 0; probe < kMaxProbe; ++probe, index = (index + 1) & slot_mask_) {
        const uint64_t slot = __atomic_load_n(&slots_[index], __ATOMIC_ACQUIRE);
        if (slot == kEmpty) return false;
        if (slot == address) return true;
    }
    return false;
}

} // namespace memtrace::preload
