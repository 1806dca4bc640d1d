// Merges the Allocs and Frees of a raw dump's chunks into one global time order (ties: the
// chunk earlier in the file first, then record order), straight into HeapEvents: what the
// replay of a raw dump reads.
//
// Each chunk being merged is decoded a few dozen events at a time into a small buffer of its
// own (a tight loop, rather than a call per record), and the chunks are ordered by the time of
// their next event in a binary heap whose top is replaced in place: a run of events from the
// same chunk costs one comparison per event, a switch of chunk one sift-down. As in ChunkMerge,
// a chunk is started only when its base time (a lower bound of its records' times) is due, and
// its pages are given back to the kernel once it is read, so memory follows the chunks being
// written at the same moment, not the dump's size.
#pragma once

#include "heap_event.h"
#include "mapped_file.h"
#include "record_decoder.h"

#include <cstdint>
#include <string>
#include <vector>

namespace memtrace {

class RawEventMerge {
public:
    // `file` and `path` must outlive the merge. `spans` are the chunks holding events.
    RawEventMerge(const MappedFile& file, std::vector<ChunkSpan> spans, const std::string* path);

    // Appends the next events in order to `out`, until it holds `max`; false when there were
    // none left. A record that cannot be decoded throws DumpError.
    bool fill(std::vector<HeapEvent>& out, size_t max);

    // Bytes of records of the chunks finished so far, for progress reports.
    uint64_t bytes_done() const {
        return bytes_done_;
    }

private:
    static constexpr size_t kBufferedEvents = 64;

    struct Source {
        RecordDecoder decoder;
        size_t chunk = 0;
        size_t next = 0;  // in events
        size_t count = 0; // events decoded into `events`
        std::vector<HeapEvent> events;
    };
    // Orders the chunks: by the time of their next event, then by position in the file.
    struct Key {
        uint64_t time;
        uint32_t chunk;
        uint32_t slot;
        bool before(const Key& other) const {
            return time != other.time ? time < other.time : chunk < other.chunk;
        }
    };

    // Decodes the next events of `source`; false when its chunk has none left.
    bool refill(Source& source);
    void start(size_t chunk);
    // Removes the top of the heap, whose chunk is finished.
    void finish_top();
    void sift_down(size_t i);

    const MappedFile& file_;
    std::vector<ChunkSpan> spans_;
    const std::string* path_;
    std::vector<uint32_t> by_base_time_; // chunks in the order they are started
    size_t started_ = 0;                 // of by_base_time_
    std::vector<Source> sources_;        // slots, reused
    std::vector<uint32_t> free_slots_;
    std::vector<Key> heap_; // min-heap of the started chunks that have events left
    Record scratch_;        // for the records that are not events
    uint64_t bytes_done_ = 0;
};

} // namespace memtrace
