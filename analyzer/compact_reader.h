// Reads the compacted form of a dump (compact_format.h) in one streaming pass per section:
// frames are read with pread and decompressed one at a time, so memory stays at one frame
// whatever the size of the file. DumpReader uses it for compacted dumps; anything that
// contradicts the format throws DumpError naming the file and the byte offset of the frame.
#pragma once

#include "compact_format.h"
#include "record_decoder.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace memtrace {

template <typename Batch> class BatchQueue;

struct HeapEvent;
class DumpError;

// A check of decoded events that the decoding thread runs on each batch before the consumer
// sees it, so that the consumer's thread (the replay, the busier of the two) does not.
struct EventCheck {
    // The index of the first invalid event; events.size() when all are valid.
    std::function<size_t(std::span<const HeapEvent>)> first_invalid;
    // The error to throw for an invalid event, once the events before it have been visited.
    std::function<DumpError(const HeapEvent&)> error;
};

class CompactedDump {
public:
    // Opens the file and checks its header. Throws DumpError.
    explicit CompactedDump(std::string path);
    ~CompactedDump();
    CompactedDump(const CompactedDump&) = delete;
    CompactedDump& operator=(const CompactedDump&) = delete;

    const compact::Header& header() const {
        return header_;
    }
    uint64_t file_size() const {
        return file_size_;
    }

    // Every metadata record in time order, with the thread that wrote it.
    void for_each_metadata_record(
        const std::function<void(const Record&, uint32_t thread_index)>& visit) const;

    // Every Alloc and Free in time order. HeapEvent::offset is the event's index in the dump.
    // `progress` (may be empty) gets the bytes of the file read so far after each frame.
    // Events come in batches, one call of `visit` each. When `check` is given (both members),
    // the events before the first invalid one are visited, then its error is thrown.
    void for_each_event(const std::function<void(std::span<const HeapEvent>)>& visit,
                        const std::function<void(uint64_t)>& progress = {},
                        const EventCheck& check = {}) const;

private:
    class SectionReader;
    struct EventBatch;
    using EventBatches = BatchQueue<EventBatch>;

    // The decoding thread's work, by version of the event encoding.
    void decode_events(EventBatches& batches, const EventCheck& check) const;
    template <typename Decoder>
    void decode_frames(Decoder& decoder, EventBatches& batches, const EventCheck& check) const;
    void decode_version_1(EventBatches& batches, const EventCheck& check) const;
    static void hand_over(std::unique_ptr<EventBatch> batch, EventBatches& batches,
                          const EventCheck& check);
    void check_event_count(uint64_t events) const;

    std::string path_;
    int fd_ = -1;
    uint64_t file_size_ = 0;
    compact::Header header_{};
};

} // namespace memtrace
