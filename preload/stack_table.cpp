#include "stack_table.h"

#include "internal_alloc.h"
#include "memtrace/dump_format.h"

#include <string.h>
#include <sys/mman.h>

namespace memtrace::preload {

namespace {
constexpr uint64_t kIdBits = 24;
constexpr uint64_t kIdMask = (uint64_t{1} << kIdBits) - 1;
} // namespace

bool StackTable::init(unsigned capacity_log2) {
    const uint64_t capacity = uint64_t{1} << capacity_log2;
    slots_ = static_cast<uint64_t*>(reserve_pages(capacity * sizeof(uint64_t)));
    // At most 3/4 of the slots are used, so probing always ends at an empty one.
    max_ids_ = static_cast<uint32_t>(capacity / 4 * 3);
    if (max_ids_ > kIdMask) max_ids_ = static_cast<uint32_t>(kIdMask);
    stacks_ = static_cast<StoredStack**>(reserve_pages((max_ids_ + 1) * sizeof(StoredStack*)));
    mask_ = capacity - 1;
    next_id_ = 1;
    return slots_ && stacks_;
}

void StackTable::clear() {
    // MADV_DONTNEED on private anonymous memory gives zero pages back: the table is empty.
    madvise(slots_, (mask_ + 1) * sizeof(uint64_t), MADV_DONTNEED);
    madvise(stacks_, (max_ids_ + 1) * sizeof(StoredStack*), MADV_DONTNEED);
    next_id_ = 1;
}

uint64_t StackTable::hash(const uint64_t* frames, uint32_t depth, bool truncated) {
    // A sum of independent products rather than a multiply chain: the CPU overlaps the
    // multiplications, which matters for 40-frame stacks. Equal hashes are compared in full.
    uint64_t h = 0x9e3779b97f4a7c15ull * (uint64_t{depth} * 2 + (truncated ? 1 : 0) + 1);
    for (uint32_t i = 0; i < depth; ++i) {
        h += (frames[i] ^ (uint64_t{i} * 0xc2b2ae3d27d4eb4full)) * 0xff51afd7ed558ccdull;
    }
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h;
}

bool StackTable::same(uint32_t id, const uint64_t* frames, uint32_t depth, bool truncated) const {
    const StoredStack* stored = __atomic_load_n(&stacks_[id], __ATOMIC_ACQUIRE);
    return stored && stored->depth == depth && stored->truncated == (truncated ? 1u : 0u) &&
           memcmp(stored->frames, frames, depth * sizeof(uint64_t)) == 0;
}

StackLookup StackTable::intern(const uint64_t* frames, uint32_t depth, bool truncated,
                               EmitStack emit) {
    const uint64_t h = hash(frames, depth, truncated);
    const uint64_t tag = h & ~kIdMask;
    uint64_t index = h & mask_;
    uint32_t reserved_id = 0; // an id we took and defined, in case our slot was stolen
    for (;;) {
        uint64_t slot = __atomic_load_n(&slots_[index], __ATOMIC_ACQUIRE);
        if (slot == 0) {
            if (reserved_id == 0) {
                reserved_id = __atomic_fetch_add(&next_id_, 1, __ATOMIC_RELAXED);
                if (reserved_id > max_ids_) return {format::kNoStack, false};
                auto* stored = static_cast<StoredStack*>(
                    internal_alloc(sizeof(StoredStack) + depth * sizeof(uint64_t)));
                if (!stored) return {format::kNoStack, false};
                stored->depth = depth;
                stored->truncated = truncated ? 1 : 0;
                memcpy(stored->frames, frames, depth * sizeof(uint64_t));
                __atomic_store_n(&stacks_[reserved_id], stored, __ATOMIC_RELEASE);
                // The definition goes to the dump before anyone can find the id.
                if (!emit(reserved_id, frames, depth, truncated)) return {format::kNoStack, false};
            }
            if (__atomic_compare_exchange_n(&slots_[index], &slot, tag | reserved_id, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                return {reserved_id, true};
            }
            // Another thread filled this slot first; `slot` now holds its value: check it.
        }
        if ((slot & ~kIdMask) == tag) {
            const auto id = static_cast<uint32_t>(slot & kIdMask);
            if (same(id, frames, depth, truncated)) return {id, false};
        }
        index = (index + 1) & mask_;
    }
}

} // namespace memtrace::preload
