// Merges the records of a raw dump's chunks into one global time order (ties in file order).
//
// A chunk is started only when its first record may be due (its base time is a lower bound of
// its records' times), and the pages of a chunk are given back to the kernel once it has been
// read. So the mapped pages the process holds stay proportional to the chunks being written at
// the same moment (about one per thread), not to the size of the dump.
#pragma once

#include "mapped_file.h"
#include "memtrace/dump_format.h"
#include "record_decoder.h"

#include <cstdint>
#include <queue>
#include <string>
#include <vector>

namespace memtrace {

// The chunk whose header is at `offset` (the header lies before min(data_end, file size)),
// checked against the format, as the span of its committed records (cut at the end of the file
// if the dump was cut short); its capacity in *capacity. A header that contradicts the format is
// a DumpError naming its byte and what is wrong.
ChunkSpan read_chunk(const uint8_t* file, uint64_t file_size, uint64_t data_end, uint64_t offset,
                     const std::string& path, uint64_t* capacity);

// The chunks of a raw dump that hold at least one committed byte, in file order. The header
// must have been checked (DumpReader does); a chunk header that contradicts the format still
// throws DumpError rather than being trusted.
// The same for a header the caller has read itself.
ChunkSpan check_chunk(const format::ChunkHeader& chunk, uint64_t file_size, uint64_t data_end,
                      uint64_t offset, const std::string& path, uint64_t* capacity);

std::vector<ChunkSpan> list_chunks(const MappedFile& file, const format::FileHeader& header,
                                   const std::string& path);

class ChunkMerge {
public:
    enum class Filter { All, EventsOnly };

    // `file` and `path` must outlive the merge.
    ChunkMerge(const MappedFile& file, std::vector<ChunkSpan> spans, const std::string* path,
               Filter filter = Filter::All);

    // The next record in time order; false when every chunk is read. `chunk` is the index in
    // `spans` of the chunk the record comes from; `end` the offset just past the record.
    bool next(Record& record, size_t& chunk, uint64_t& end);

    const std::vector<ChunkSpan>& spans() const {
        return spans_;
    }
    // Bytes of records of the chunks finished so far, for progress reports.
    uint64_t bytes_done() const {
        return bytes_done_;
    }

private:
    struct Active {
        RecordDecoder decoder;
        Record pending;
        uint64_t pending_end = 0;
    };
    // Decodes the chunk in `slot` up to its next wanted record; false when it has none left.
    bool advance(size_t slot);
    void finish(size_t chunk, size_t slot);
    void hand_over(Active& active, Record& record);

    const MappedFile& file_;
    std::vector<ChunkSpan> spans_;
    const std::string* path_;
    Filter filter_;
    std::vector<Active> active_; // slots, reused
    std::vector<size_t> free_slots_;
    std::vector<size_t> slot_of_; // chunk -> slot while active
    // (time, chunk, started): a chunk not started yet is keyed by its base time.
    struct Entry {
        uint64_t time;
        size_t chunk;
        bool operator>(const Entry& other) const {
            return time != other.time ? time > other.time : chunk > other.chunk;
        }
    };
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue_;
    std::vector<bool> started_;
    static constexpr size_t kNone = SIZE_MAX;
    size_t current_ = kNone; // the chunk of the last record, when it has more (not queued)
    uint64_t bytes_done_ = 0;
};

} // namespace memtrace
