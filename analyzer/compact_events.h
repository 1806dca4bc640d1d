// The event encoding of compacted dumps (compact_format.h, version 2): Alloc and Free records in
// one time order, in frames of columns that zstd compresses far better than rows.
//
// Models, mirrored exactly by the encoder and the decoder, replace most addresses and block
// names by small, repetitive numbers:
//  - every thread numbers its own Allocs 0, 1, 2, ...; a Free names its (live) block either by
//    how many allocations of its owner ago it was allocated (with the owner, when that is
//    another thread), or by the difference from the number of the block its thread freed before
//    (containers and objects are torn down in runs of neighbours, which makes that difference a
//    small, repeating value where the age is not);
//  - an Alloc at an address that the same thread freed recently, for a block of the same
//    allocator chunk size (malloc's thread caches and bins hand these back), names the address
//    by its position in a list of such frees;
//  - an Alloc right after one of the thread's latest allocations (where that block's malloc
//    chunk ends, as malloc carves fresh blocks off the top of its heap or off the remainder of
//    a larger free chunk, often alternating) names it by its position in a short list of such
//    ends (measured: 85-95% of the addresses the reuse list misses on containers and python).
// Anything the models do not predict (a free of an unknown address, an allocation elsewhere)
// carries its address as a delta from the previous address of the same thread.
//
// Frame content:
//   event_count:varint, kColumnCount column lengths (varint) in Column order, the tags (one
//   byte per event), then the columns.
// Tag bits:
//   0    1: Free, 0: Alloc
//   1-2  Alloc: the AllocFunction; Free: 0
//   3    the thread changes: its index is the next value of the threads column
//   4-6  Alloc: 0 address in the address columns; 1-4 the k-th newest entry of the reuse list;
//        5 the entry 5 + (next value of the reuse column); 6 where the thread's newest block
//        ends (first entry of its end list); 7 the entry 1 + (next value of the end column).
//        Free: 0 age in the age columns; 1 address in the address columns (the block is not
//        live); 2 difference in the free-delta column; 3 a block of another thread: its owner
//        in the threads column, then its age
//   7    the time changes: the next value of the times column is the increase minus 1
// Values are varints; addresses and ages are "split": their low byte in one column and the rest
// (value >> 8) as a varint in another, which lets zstd's entropy coder model the noisy low byte
// apart from the skewed high part (measured: 3-5% smaller dumps).
#pragma once

#include "compact_columns.h"
#include "flat_map.h"
#include "record_decoder.h"

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace memtrace {

struct HeapEvent;

namespace compact {

enum Column : unsigned {
    kThreads,
    kTimes,
    kSizes,
    kStacks,
    kAddressLow,
    kAddressHigh,
    kAgeLow,
    kAgeHigh,
    kFreeDeltas,
    kReusePositions,
    kEndPositions,
    kColumnCount
};
inline constexpr unsigned kReuseListLength = 32;
inline constexpr unsigned kEndListLength = 16;

// The state both sides keep, but for the live blocks (the encoder finds them by address, the
// decoder by number).
class EventModel {
public:
    // A ring: adding is O(1) when full (the oldest entry drops out), taking the k-th newest
    // moves only the k - 1 newer ones.
    class ReuseList {
    public:
        uint32_t count() const {
            return count_;
        }
        // The k-th newest entry, 1 <= k <= count().
        uint64_t newest(uint32_t k) const {
            return addresses_[(head_ - k) & kMask];
        }
        void add(uint64_t address);
        // Removes and returns the k-th newest entry, 1 <= k <= count().
        uint64_t take(uint32_t k);

    private:
        static_assert((kReuseListLength & (kReuseListLength - 1)) == 0);
        static constexpr uint32_t kMask = kReuseListLength - 1;
        std::array<uint64_t, kReuseListLength> addresses_{};
        uint32_t head_ = 0; // where the next entry goes
        uint32_t count_ = 0;
    };
    struct ThreadState {
        uint64_t previous_address = 0; // of its last event
        uint64_t allocations = 0;      // so far: the number its next block gets
        // The last live block it freed: its owner (the thread that allocated it) and number.
        uint32_t previous_free_owner = 0;
        uint64_t previous_free = 0;
        // Where its latest allocations' malloc chunks end, most recent first, no duplicates.
        std::array<uint64_t, kEndListLength> ends{};
        uint32_t end_count = 0;
        // Puts the end of a new block first.
        void remember_end(uint64_t end);
        // The position of `address` in ends, or -1.
        int find_end(uint64_t address) const;
    };
    static uint64_t reuse_key(uint32_t thread_index, uint64_t size);
    // Where the malloc chunk of a block ends, as glibc lays chunks out.
    static uint64_t chunk_end(uint64_t address, uint64_t size);

    FlatMap<ReuseList> reuse;
    FlatMap<ThreadState> threads;
    uint64_t time_ns = 0;
    uint32_t thread = 0;
    ThreadState* current; // of `thread`, in threads

    EventModel();
    void switch_thread(uint32_t thread_index);
    void remember_free(uint64_t address, uint64_t size);
};

class EventEncoder {
public:
    EventEncoder();
    void add(const Record& record, uint32_t thread_index);
    size_t pending_bytes() const;
    bool empty() const {
        return count_ == 0;
    }
    // Appends the frame content of the events added since the last call to `out`.
    void take_frame(std::vector<uint8_t>& out);

private:
    void put(Column column, uint64_t value);
    void put_split(Column low, uint64_t value);

    EventModel model_;
    struct LiveBlock {
        uint32_t owner;  // the thread that allocated it
        uint64_t number; // among the owner's allocations
        uint64_t size;
    };
    FlatMap<LiveBlock> live_; // by address
    uint64_t count_ = 0;
    std::vector<uint8_t> tags_;
    std::array<std::vector<uint8_t>, kColumnCount> columns_;
};

// The decoder's live blocks, by owner thread and number: per owner, pages of consecutive
// numbers, so that finding a block is an index, not a hash lookup. A page is given back once
// all its blocks are freed, so memory follows the live blocks (at worst one page per live
// block).
class LiveBlockPages {
public:
    struct Block {
        uint64_t address;
        uint64_t size;
    };
    static constexpr unsigned kPageBits = 10;
    static constexpr uint64_t kPageSize = uint64_t{1} << kPageBits;

    LiveBlockPages();
    ~LiveBlockPages();
    void add(uint32_t owner, uint64_t number, const Block& block);
    // The live block, or nullptr.
    const Block* find(uint32_t owner, uint64_t number);
    // Removes a block find() returned; `allocations` is the owner's count so far.
    void erase(uint32_t owner, uint64_t number, uint64_t allocations);

private:
    struct Page;
    using Pages = std::vector<std::unique_ptr<Page>>;
    Pages& pages_of(uint32_t owner);

    FlatMap<uint32_t> owners_; // thread -> index in pages_
    std::vector<std::unique_ptr<Pages>> pages_;
    uint32_t last_owner_ = UINT32_MAX; // pages_of's cache
    Pages* last_pages_ = nullptr;
    std::unique_ptr<Page> spare_;
};

class EventDecoder {
public:
    EventDecoder();
    ~EventDecoder();
    // Starts decoding one frame's content (which must stay alive and unchanged until the frame
    // is done). Returns an empty string, or what is wrong with the frame.
    std::string start_frame(std::span<const uint8_t> content);
    // Decodes up to `room` events of the frame into `out`, numbering them from `index`
    // (HeapEvent::offset), which is advanced past them; `decoded` says how many. Returns an
    // empty string, or what is wrong (the events before the fault are in `out`).
    std::string decode(HeapEvent* out, size_t room, size_t& decoded, uint64_t& index);
    // All events of the frame are decoded.
    bool frame_done() const {
        return next_ == count_;
    }
    // After the last event: checks that every column was used up.
    std::string finish_frame() const;

private:
    EventModel model_;
    LiveBlockPages live_;
    const uint8_t* tags_ = nullptr;
    uint64_t count_ = 0;
    uint64_t next_ = 0;
    ColumnReader columns_[kColumnCount];
};

} // namespace compact
} // namespace memtrace
