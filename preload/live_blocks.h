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

// How far the replay read one chunk, so that replay_tail can go on from there.
struct ChunkProgress {
    uint64_t offset;   // of the chunk header in the file
    uint32_t consumed; // record bytes read
    uint64_t time;     // decoding state after them
    uint64_t address;
    uint32_t thread_index;
};

struct LiveBlocks {
    const LiveBlock* blocks = nullptr; // sorted by address
    size_t count = 0;
    uint64_t events = 0; // Alloc and Free records replayed
    // Where the replay stopped in the last chunk of each thread, the only chunks that can grow
    // (nullptr when it could not keep track: then no tail).
    const ChunkProgress* progress = nullptr;
    size_t progress_count = 0;
    uint64_t data_end = 0;
};

// Replays the dump whose first `data_end` bytes are mapped at `dump` (the header included).
// Chunks are per thread and time-ordered, so no merge is needed: for each address the event
// with the latest time wins, and a tie goes to the chunk later in the file. Reads `committed`
// of each chunk atomically, so threads that keep writing meanwhile are harmless.
// expected_live (the allocator's count of live blocks, 0 if unknown) sizes the address table up
// front, to spare the rehashing. release_pages: `dump` is a page-aligned shared file mapping
// whose pages may be dropped once read (MADV_DONTNEED), so a big dump does not fill the RSS.
ReplayResult replay_live_blocks(const uint8_t* dump, uint64_t data_end, ScanArena& arena,
                                LiveBlocks* out, uint64_t expected_live = 0,
                                bool release_pages = false);

// The events written since replay_live_blocks read the dump (other threads keep running during
// the scan): on_event(context, is_alloc, address, size) for each Alloc and Free, in chunk order.
// `dump` maps at least the first `data_end` bytes of the file as it is now.
using TailEvent = void (*)(void* context, bool is_alloc, uint64_t address, uint64_t size);
ReplayResult replay_tail(const uint8_t* dump, uint64_t data_end, const LiveBlocks& live,
                         TailEvent on_event, void* context);

} // namespace memtrace::preload
