// In-process deduplication of stacks: each distinct stack gets a small id once, and events refer
// to it by that id. Lock-free: an open-addressing table of 64-bit slots (hash tag | id) that
// only ever goes from empty to full, plus the frames of each id in internal memory for the exact
// comparison. A thread that inserts a stack writes its Stack record before publishing the slot,
// so no event can name an id whose definition is not already in the dump.
#pragma once

#include <stdint.h>

namespace memtrace::preload {

struct StackLookup {
    uint32_t id;   // format::kNoStack when the table is full
    bool inserted; // this call defined the stack (emit() wrote its record)
};

// Writes the Stack record of a new id (to the calling thread's chunk). Returns false if the
// record could not be written (recording stopped), in which case the id is not published.
using EmitStack = bool (*)(uint32_t id, const uint64_t* frames, uint32_t depth, bool truncated);

class StackTable {
public:
    // Reserves address space for `capacity_log2` bits of slots; false if the kernel refuses.
    bool init(unsigned capacity_log2);
    // Forgets every stack (the fork child starts a new dump with its own stack records).
    void clear();

    StackLookup intern(const uint64_t* frames, uint32_t depth, bool truncated, EmitStack emit);

    uint32_t size() const {
        return __atomic_load_n(&next_id_, __ATOMIC_RELAXED) - 1;
    }

private:
    struct StoredStack {
        uint32_t depth;
        uint32_t truncated;
        uint64_t frames[];
    };

    static uint64_t hash(const uint64_t* frames, uint32_t depth, bool truncated);
    bool same(uint32_t id, const uint64_t* frames, uint32_t depth, bool truncated) const;

    uint64_t* slots_ = nullptr;      // (hash >> 24) << 24 | id; 0 = empty
    StoredStack** stacks_ = nullptr; // by id
    uint64_t mask_ = 0;
    uint32_t max_ids_ = 0;
    uint32_t next_id_ = 1;
};

} // namespace memtrace::preload
