// The live heap at exit, recovered by replaying the process's own dump: memtrace keeps no table
// of live blocks on the allocation path (it would cost every malloc), so the leak scan reads the
// committed records of every chunk back and keeps, per address, the latest Alloc or Free.
#pragma once

#include "scan_arena.h"

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

struct LiveBlock {
    uint64_t address;
    uint64_t size;
};

enum class ReplayResult {
    Ok,
    NoMemory,  // the arena could not grow
    BadChunk,  // a chunk header that cannot be walked past
    BadRecord, // a record that cannot be decoded (the rest of its chunk is unknown)
};

struct LiveBlocks {
    const LiveBlock* blocks = nullptr; // sorted by address
    size_t count = 0;
    uint64_t events = 0; // Alloc and Free records replayed
};

// Replays the dump whose first `data_end` bytes are mapped at `dump` (the header included).
// Chunks are per thread and time-ordered, so no merge is needed: for each address the event
// with the latest time wins, and a tie goes to the chunk later in the file. Reads `committed`
// of each chunk atomically, so threads that keep writing meanwhile are harmless.
// expected_live (the allocator's count of live blocks, 0 if unknown) sizes the address table up
// front, to spare the rehashing.
ReplayResult replay_live_blocks(const uint8_t* dump, uint64_t data_end, ScanArena& arena,
                                LiveBlocks* out, uint64_t expected_live = 0);

} // namespace memtrace::preload
