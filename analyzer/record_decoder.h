// Decodes the records of one chunk, with every length and count checked against the bytes the
// chunk has. Used twice by DumpReader: once to collect the metadata, once to stream events.
#pragma once

#include "heap_event.h"
#include "memtrace/dump_format.h"
#include "memtrace/record_encoding.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace memtrace {

// Where one chunk's records lie in the file, as found by the first pass.
struct ChunkSpan {
    uint64_t header_offset = 0;
    uint64_t begin = 0;     // first record byte
    uint64_t end = 0;       // one past the last byte to decode
    bool cut_short = false; // the committed bytes ran past the end of the file
    uint64_t base_time_ns = 0;
    uint32_t thread_index = 0;
};

// One decoded record. Only the fields of its kind are meaningful; the string views point into
// the mapped file.
struct Record {
    format::RecordKind kind = format::RecordKind::Alloc;
    uint8_t sub_kind = 0;
    uint64_t offset = 0; // of the kind byte
    uint64_t time_ns = 0;
    // Alloc, Free
    uint64_t address = 0;
    uint64_t size = 0;
    // Alloc, Stack
    uint32_t stack_id = 0;
    // Stack
    bool truncated = false;
    std::vector<uint64_t> frames;
    // ModuleLoad, ModuleUnload
    uint32_t module_id = 0;
    uint64_t load_bias = 0;
    uint64_t start = 0;
    uint64_t end = 0;
    std::string_view build_id;
    std::string_view module_path;
    // ProcessInfo
    std::string_view exe_path;
    std::string_view cmdline;
    // Snapshot (trigger, text = label), Note (code, text)
    uint32_t trigger = 0;
    uint32_t code = 0;
    std::string_view text;
    // ProcessMemory
    format::ProcessMemory memory{};
    // MallocInfo (text = the XML)
    // SizeClassTotals
    std::vector<format::SizeClassCounts> classes;
    // MemoryMap (address and size are the mapped or old range; stack_id for Map and Remap)
    uint64_t new_address = 0;
    uint64_t new_size = 0;
    uint32_t prot = 0;
    uint32_t flags = 0;
    // LeakScan
    format::LeakScanSummary scan{};
    std::vector<std::pair<uint64_t, format::BlockKind>> scan_blocks;
};

class RecordDecoder {
public:
    // `file` is the whole mapped dump; `path` only names it in errors.
    RecordDecoder(const uint8_t* file, const ChunkSpan& span, const std::string* path);

    // Decodes the next record. Returns false at the end of the span, or when the span is cut
    // short and the next record is not wholly in the file. Throws DumpError for a record that
    // is malformed or runs past the chunk's committed bytes.
    bool next(Record& record);

    // Decodes up to `max` Allocs and Frees into `out`, skipping the other records (decoded into
    // `scratch`, with the same checks as next()), and returns how many: fewer than `max` only
    // when the span is finished. The events name `thread_index`.
    size_t next_events(HeapEvent* out, size_t max, uint32_t thread_index, Record& scratch);

    // Steps over the Allocs and Frees that come next, as next() would decode them, up to the
    // next other record or to the last few bytes of the span (left to next()), and returns
    // how many; *latest_time_ns is raised to the latest of their times. Faster than next() for
    // a reader that needs only to count the events (the first pass).
    uint64_t skip_events(uint64_t* latest_time_ns);

    // The offset of the next undecoded byte: after next() returned false on a cut-short span,
    // where the whole records end.
    uint64_t position() const {
        return position_;
    }
    // The time the next record's delta counts from: the last record's, or the chunk's base.
    uint64_t time_ns() const {
        return time_ns_;
    }

private:
    // An Alloc or Free with kLongestEvent bytes left in the span; false (nothing consumed) for
    // anything else, including a malformed event, which the general path reports.
    bool next_event_fast(Record& record);

    const uint8_t* file_;
    const std::string* path_;
    uint64_t position_;
    uint64_t end_;
    bool cut_short_;
    uint64_t time_ns_;
    uint64_t previous_address_ = 0;
};

} // namespace memtrace
