// The replay's live blocks by address: the table every Alloc and Free of a dump looks up, so
// its layout is what the replay's speed and memory come down to.
//
// Open addressing with linear probing and backward-shift deletion (no tombstones), capacity a
// power of two kept at most 3/4 full. A slot holds the address and the block together in 32
// aligned bytes: one lookup touches one cache line (two slots per line), where separate key,
// value and "used" arrays cost three misses. prefetch() lets a caller that knows the next
// addresses start those misses early. Slot pointers are valid until the next insert or erase.
//
// The slots live in an anonymous mapping that doubles in place (mremap) and is rehashed in
// place, so that growing never holds the old and the new array at once: the table's peak of
// memory is its size, not one and a half times it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <sys/mman.h>
#include <utility>

namespace memtrace {

class LiveBlockTable {
public:
    struct alignas(32) Slot {
        uint64_t address;
        uint64_t size; // as requested
        uint64_t time_ns;
        uint32_t stack_id;
        uint32_t used; // 0 for an empty slot
    };
    static_assert(sizeof(Slot) == 32);

    LiveBlockTable() {
        slots_ = map_slots(kMinCapacity);
        capacity_ = kMinCapacity;
        shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(kMinCapacity));
    }
    ~LiveBlockTable() {
        if (slots_ != nullptr) ::munmap(slots_, capacity_ * sizeof(Slot));
    }
    LiveBlockTable(const LiveBlockTable& other)
        : slots_(map_slots(other.capacity_)), capacity_(other.capacity_), shift_(other.shift_),
          size_(other.size_) {
        std::memcpy(slots_, other.slots_, capacity_ * sizeof(Slot));
    }
    LiveBlockTable& operator=(const LiveBlockTable& other) {
        if (this != &other) *this = LiveBlockTable(other);
        return *this;
    }
    LiveBlockTable(LiveBlockTable&& other) noexcept
        : slots_(std::exchange(other.slots_, nullptr)),
          capacity_(std::exchange(other.capacity_, 0)), shift_(other.shift_),
          size_(std::exchange(other.size_, 0)) {
    }
    LiveBlockTable& operator=(LiveBlockTable&& other) noexcept {
        std::swap(slots_, other.slots_);
        std::swap(capacity_, other.capacity_);
        std::swap(shift_, other.shift_);
        std::swap(size_, other.size_);
        return *this;
    }

    size_t size() const {
        return size_;
    }
    size_t capacity() const {
        return capacity_;
    }

    // A hint: the slot where a lookup of `address` starts is about to be needed.
    void prefetch(uint64_t address) const {
        const Slot* slot = &slots_[home_of(address)];
#if defined(__x86_64__)
        // GCC 12 drops a __builtin_prefetch of this address once the replay loop is inlined
        // around it (the lookups then miss in a table larger than the cache: containers'
        // replay was 30% slower); an asm statement is kept.
        asm volatile("prefetcht0 %0" : : "m"(*slot));
#else
        __builtin_prefetch(slot, 1);
#endif
    }

    Slot* find(uint64_t address) {
        const size_t mask = capacity_ - 1;
        for (size_t i = home_of(address);; i = (i + 1) & mask) {
            Slot& slot = slots_[i];
            if (!slot.used) return nullptr;
            if (slot.address == address) return &slot;
        }
    }

    // The slot of `address`: the live one (inserted = false), or a new one (inserted = true)
    // with its address set and the rest for the caller to fill.
    Slot& find_or_insert(uint64_t address, bool& inserted) {
        const size_t mask = capacity_ - 1;
        size_t i = home_of(address);
        for (;; i = (i + 1) & mask) {
            Slot& slot = slots_[i];
            if (!slot.used) break;
            if (slot.address == address) {
                inserted = false;
                return slot;
            }
        }
        inserted = true;
        if ((size_ + 1) * 4 > capacity_ * 3) {
            grow();
            return place(address);
        }
        ++size_;
        slots_[i] = Slot{address, 0, 0, 0, 1};
        return slots_[i];
    }

    // Removes the entry in `slot` (a pointer find() or find_or_insert() returned).
    void erase(Slot* slot) {
        const size_t mask = capacity_ - 1;
        size_t hole = static_cast<size_t>(slot - slots_);
        // Shift back the entries after the hole that probed past it, so lookups need no
        // tombstones: j's entry may fill the hole unless its home is in (hole, j] cyclically.
        for (size_t j = (hole + 1) & mask; slots_[j].used; j = (j + 1) & mask) {
            const size_t home = home_of(slots_[j].address);
            const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
            if (stays) continue;
            slots_[hole] = slots_[j];
            hole = j;
        }
        slots_[hole].used = 0;
        --size_;
    }

    // Calls visit(slot) for every entry, in no particular order.
    template <typename Visit> void for_each(Visit&& visit) const {
        for (size_t i = 0; i < capacity_; ++i) {
            if (slots_[i].used) visit(slots_[i]);
        }
    }

private:
    static constexpr size_t kMinCapacity = 1024;

    size_t home_of(uint64_t address) const {
        // Fibonacci hashing: spreads the 16-byte-aligned addresses malloc returns; the high
        // bits of the product are the best mixed.
        return static_cast<size_t>((address * 0x9e3779b97f4a7c15ull) >> shift_);
    }

    // Inserts an address known to be absent, with room known to be there.
    Slot& place(uint64_t address) {
        const size_t mask = capacity_ - 1;
        size_t i = home_of(address);
        while (slots_[i].used)
            i = (i + 1) & mask;
        ++size_;
        slots_[i] = Slot{address, 0, 0, 0, 1};
        return slots_[i];
    }

    static Slot* map_slots(size_t capacity) {
        // Anonymous pages read as zeros: every slot starts empty, and costs memory only once
        // it is touched.
        void* p = ::mmap(nullptr, capacity * sizeof(Slot), PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        return static_cast<Slot*>(p);
    }

    // Doubles the capacity in place. With one more bit of hash, an entry's home is 2h or
    // 2h + 1 for its old home h; the entries are placed again in one sweep in which each is
    // "old" (state 1) until placed (state 2). An entry is placed at the first slot from its
    // new home that is empty or holds an old entry, which then moves on in its turn: placed
    // entries never move again, and every slot between a placed entry's home and itself holds
    // a placed entry, which is what lookups with linear probing need.
    void grow() {
        const size_t old_bytes = capacity_ * sizeof(Slot);
        void* p = ::mremap(slots_, old_bytes, old_bytes * 2, MREMAP_MAYMOVE);
        if (p == MAP_FAILED) throw std::bad_alloc();
        slots_ = static_cast<Slot*>(p); // the new half reads as zeros: empty
        capacity_ *= 2;
        --shift_;
        const size_t mask = capacity_ - 1;
        for (size_t i = 0; i < capacity_; ++i) {
            if (slots_[i].used != 1) continue;
            Slot moving = slots_[i];
            slots_[i].used = 0;
            for (;;) {
                size_t j = home_of(moving.address);
                while (slots_[j].used == 2)
                    j = (j + 1) & mask;
                moving.used = 2;
                if (slots_[j].used == 0) {
                    slots_[j] = moving;
                    break;
                }
                std::swap(slots_[j], moving); // an old entry: it is placed next
            }
        }
        for (size_t i = 0; i < capacity_; ++i) {
            if (slots_[i].used == 2) slots_[i].used = 1;
        }
    }

    Slot* slots_ = nullptr;
    size_t capacity_ = 0;
    unsigned shift_ = 64;
    size_t size_ = 0;
};

} // namespace memtrace
