// The event encoding of compacted dumps (compact_format.h): Alloc and Free records in one time
// order, in frames of columns that zstd compresses far better than rows.
//
// Two models, mirrored exactly by the encoder and the decoder, replace most addresses by small
// numbers:
//  - a Free names its block by how many allocations ago it was allocated (every block gets the
//    next number of a global sequence), since the block is live and both sides know it;
//  - an Alloc at an address that the same thread freed recently, for a block of the same
//    allocator chunk size (malloc's thread caches and fast bins hand these back first, last
//    freed first), names the address by its position in a short list of such frees.
// Anything the models do not predict (a free of an unknown address, an allocation elsewhere)
// carries its address as a delta from the previous address of the same thread.
//
// Frame content:
//   event_count:varint  then six column lengths (varint): threads, times, sizes, stacks,
//   addresses, frees; then the tags (one byte per event), then the six columns.
// tag bit 0: Free; bits 1-2: AllocFunction (Alloc); bit 3: the thread changes (a varint in the
// threads column); bits 4-6: Alloc: 0 = address in the addresses column, k = the k-th newest
// entry of the reuse list; Free: 1 = address in the addresses column (block not live), 0 = a
// distance in the frees column. Bit 7 is 0.
// times: the delta from the previous event (varint); sizes, stacks: varints of each Alloc;
// addresses: zigzag varint deltas; frees: varint distance >= 1.
#pragma once

#include "flat_map.h"
#include "record_decoder.h"

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace memtrace {

struct HeapEvent;

namespace compact {

inline constexpr unsigned kColumnCount = 6;
inline constexpr unsigned kReuseListLength = 7;

// The state both sides keep: live blocks by sequence number, recent frees per thread and size.
class EventModel {
public:
    struct Block {
        uint64_t address;
        uint64_t size;
    };
    struct ReuseList {
        std::array<uint64_t, kReuseListLength> addresses{}; // newest at [count - 1]
        uint8_t count = 0;
    };
    static uint64_t reuse_key(uint32_t thread_index, uint64_t size);

    FlatMap<ReuseList> reuse;
    uint64_t next_sequence = 0;
    uint64_t time_ns = 0;
    uint32_t thread = 0;
    uint64_t previous_address = 0;        // of `thread`
    FlatMap<uint64_t> previous_addresses; // of the other threads

    void switch_thread(uint32_t thread_index);
    void remember_free(uint32_t thread_index, const Block& block);
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
    EventModel model_;
    struct LiveBlock {
        uint64_t sequence;
        uint64_t size;
    };
    FlatMap<LiveBlock> live_; // by address
    uint64_t count_ = 0;
    std::vector<uint8_t> tags_;
    std::array<std::vector<uint8_t>, kColumnCount> columns_;
};

class EventDecoder {
public:
    // Decodes one frame's content, calling visit for each event. Returns an empty string, or
    // what is wrong with the frame. `index` numbers the events (HeapEvent::offset) and is
    // advanced past them.
    std::string decode(const std::vector<uint8_t>& content, uint64_t& index,
                       const std::function<void(const HeapEvent&)>& visit);

private:
    EventModel model_;
    FlatMap<EventModel::Block> live_; // sequence number -> block
};

} // namespace compact
} // namespace memtrace
