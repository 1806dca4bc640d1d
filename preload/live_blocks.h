// The live heap at exit, recovered by replaying the process's own dump: memtrace keeps no table
// of live blocks on the allocation path (it would cost every malloc), so the leak scan reads the
// committed records of every chunk back and keeps, per address, the latest Alloc or Free.
#pragma once

#include "memtrace/dump_format.h"
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

// For each address, its latest event (by time; a tie goes to the event recorded later). An
// address whose events all came in time order (one thread's, as in most programs) is removed
// when its block is freed, so the table holds about the live blocks, not every address ever
// used. Once an event came out of order (another thread's chunk read later), the address is
// "sticky": its free leaves a tombstone with its time, since an older event may still come
// (an Alloc whose Free was already read, which must not come back to life).
class AddressTable {
public:
    explicit AddressTable(ScanArena& arena) : arena_(arena) {
    }

    bool init(uint64_t expected);

    // Events are applied in batches: the table is far larger than the caches, so each event is
    // a cache miss, and prefetching a batch's slots first lets those misses overlap.
    bool record(uint64_t address, uint64_t time, bool alloc, uint64_t size) {
        if (address == 0) return true; // never a block; 0 marks empty slots
        batch_[batched_++] = Slot{address, time, alloc ? size << 2 | kLive : 0};
        return batched_ < kBatch || flush();
    }
    bool flush();

    // The live blocks, sorted by address, in a new arena region; the table is released.
    bool collect(LiveBlocks* out);

    // Bytes of the slot array.
    uint64_t bytes() const {
        return capacity_ * sizeof(Slot);
    }

private:
    // state = size << 2 | sticky << 1 | live (an Alloc; else a tombstone: the latest was a Free).
    struct Slot {
        uint64_t address; // 0 = empty
        uint64_t time;
        uint64_t state;
    };
    static constexpr uint64_t kLive = 1;
    static constexpr uint64_t kSticky = 2;
    static constexpr size_t kBatch = 32;

    static uint64_t home(uint64_t address) {
        return ((address >> 4) * 0x9e3779b97f4a7c15ull) >> 20;
    }
    static Slot* find(Slot* slots, uint64_t capacity, uint64_t address, uint64_t i);
    void apply(const Slot& event, uint64_t home);
    void remove(Slot* slot);
    bool rehash(uint64_t capacity);

    ScanArena& arena_;
    Slot* slots_ = nullptr;
    uint64_t capacity_ = 0;
    uint64_t used_ = 0;
    Slot batch_[kBatch];
    size_t batched_ = 0;
};

// The replay, in steps: catch_up() reads what was committed since its last call, so the dump can
// be read while the program runs (the sampler thread does) and only the rest at exit.
// Chunks are per thread and time-ordered, so no merge is needed: for each address the event
// with the latest time wins, and a tie goes to the chunk later in the file. `committed` of each
// chunk is read atomically, so threads that keep writing meanwhile are harmless.
class LiveBlockReplay {
public:
    explicit LiveBlockReplay(ScanArena& arena) : arena_(arena), table_(arena) {
    }

    // expected_live sizes the address table up front, to spare the rehashing.
    bool init(uint64_t expected_live);
    // `dump` maps at least the first `data_end` bytes of the file, data_end read (acquire) from
    // the file header. release_pages: `dump` is a page-aligned shared file mapping whose pages
    // may be dropped once read (MADV_DONTNEED), so a big dump does not fill the RSS.
    ReplayResult catch_up(const uint8_t* dump, uint64_t data_end, bool release_pages);
    // The live blocks and where each open chunk was read up to (for replay_tail).
    ReplayResult finish(LiveBlocks* out);

    uint64_t read_end() const {
        return read_end_;
    }
    uint64_t table_bytes() const {
        return table_.bytes();
    }

private:
    bool open_chunk(const ChunkProgress& chunk);

    ScanArena& arena_;
    AddressTable table_;
    // The last chunk of each thread seen so far: the only chunks that can still grow.
    ChunkProgress* open_ = nullptr;
    size_t open_count_ = 0;
    size_t open_capacity_ = 0;
    uint64_t read_end_ = format::kHeaderSize;
    uint64_t events_ = 0;
};

// The whole replay in one step (the header included in the `data_end` bytes at `dump`).
// expected_live: the allocator's count of live blocks, 0 if unknown.
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
