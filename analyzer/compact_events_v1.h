// The event encoding of version 1 compacted dumps, kept so that dumps compacted by an older
// memtrace still read. Only the decoder: nothing writes version 1 any more. The format is
// described in docs/format.md ("Version 1 events").
#pragma once

#include "flat_map.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace memtrace {

struct HeapEvent;

namespace compact::v1 {

// The state the version 1 encoder kept: live blocks by sequence number, the last 7 frees per
// thread and allocator chunk size.
class EventModel {
public:
    struct Block {
        uint64_t address;
        uint64_t size;
    };
    struct ReuseList {
        std::array<uint64_t, 7> addresses{}; // newest at [count - 1]
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

class EventDecoder {
public:
    // Decodes one frame's content, appending its events to `out`. Returns an empty string, or
    // what is wrong with the frame. `index` numbers the events (HeapEvent::offset) and is
    // advanced past them.
    std::string decode(const std::vector<uint8_t>& content, uint64_t& index,
                       std::vector<HeapEvent>& out);

private:
    EventModel model_;
    FlatMap<EventModel::Block> live_; // sequence number -> block
};

} // namespace compact::v1
} // namespace memtrace
