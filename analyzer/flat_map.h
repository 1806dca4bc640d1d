// An open-addressing hash map from 64-bit keys to small values, for the per-event lookups of
// the compacted-dump codec: one probe sequence in one array, no allocation per entry, which
// makes it several times faster than std::unordered_map there.
//
// Linear probing with backward-shift deletion (no tombstones), capacity a power of two kept at
// most 3/4 full. Pointers returned by find() and insert() are valid until the next insert or
// erase.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace memtrace {

template <typename Value> class FlatMap {
public:
    FlatMap() {
        rehash(16);
    }

    size_t size() const {
        return size_;
    }

    Value* find(uint64_t key) {
        for (size_t i = slot_of(key);; i = (i + 1) & mask_) {
            if (!used_[i]) return nullptr;
            if (keys_[i] == key) return &values_[i];
        }
    }

    // The value at key, default-constructed if absent; `inserted` says which.
    Value& find_or_insert(uint64_t key, bool& inserted) {
        size_t i = slot_of(key);
        for (;; i = (i + 1) & mask_) {
            if (!used_[i]) break;
            if (keys_[i] == key) {
                inserted = false;
                return values_[i];
            }
        }
        inserted = true;
        if ((size_ + 1) * 4 > keys_.size() * 3) {
            rehash(keys_.size() * 2);
            return (*this)[key];
        }
        used_[i] = 1;
        keys_[i] = key;
        values_[i] = Value{};
        ++size_;
        return values_[i];
    }

    // The value at key, default-constructed if absent.
    Value& operator[](uint64_t key) {
        bool inserted;
        return find_or_insert(key, inserted);
    }

    // Calls visit(key, value) for every entry, in no particular order.
    template <typename Visit> void for_each(Visit&& visit) const {
        for (size_t i = 0; i < used_.size(); ++i) {
            if (used_[i]) visit(keys_[i], values_[i]);
        }
    }

    // Removes the entry at key; false if there was none.
    bool erase(uint64_t key) {
        size_t i = slot_of(key);
        for (;; i = (i + 1) & mask_) {
            if (!used_[i]) return false;
            if (keys_[i] == key) break;
        }
        // Shift back the entries after i that probed past it, so lookups need no tombstones.
        size_t hole = i;
        for (size_t j = (hole + 1) & mask_; used_[j]; j = (j + 1) & mask_) {
            const size_t home = slot_of(keys_[j]);
            // j's entry may fill the hole if its home is not in (hole, j] cyclically.
            const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
            if (stays) continue;
            keys_[hole] = keys_[j];
            values_[hole] = values_[j];
            hole = j;
        }
        used_[hole] = 0;
        --size_;
        return true;
    }

private:
    size_t slot_of(uint64_t key) const {
        // Fibonacci hashing: spreads sequential keys, and the high bits are the best mixed.
        return static_cast<size_t>((key * 0x9e3779b97f4a7c15ull) >> shift_);
    }

    void rehash(size_t capacity) {
        std::vector<uint64_t> keys(capacity);
        std::vector<Value> values(capacity);
        std::vector<uint8_t> used(capacity);
        keys.swap(keys_);
        values.swap(values_);
        used.swap(used_);
        mask_ = capacity - 1;
        shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(capacity));
        size_ = 0;
        for (size_t i = 0; i < used.size(); ++i) {
            if (used[i]) (*this)[keys[i]] = values[i];
        }
    }

    std::vector<uint64_t> keys_;
    std::vector<Value> values_;
    std::vector<uint8_t> used_;
    size_t mask_ = 0;
    unsigned shift_ = 64;
    size_t size_ = 0;
};

} // namespace memtrace
