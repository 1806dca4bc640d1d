// Writes the compacted form of a raw dump (compact_format.h): every record merged into one
// time order, events re-encoded, everything compressed with zstd.
#pragma once

#include <cstdint>
#include <string>

namespace memtrace {

struct CompactOptions {
    // zstd level. Measured: 9 is 1.4% (churn) to 15% (sqlite3) smaller than 3 for about 1.5
    // times its time; 11 is 0.5-1.5% smaller than 9 for 1.1-1.3 times its time (version 2 of
    // the event encoding); 12 gains nothing more; 19 gains 3-6% more for 4 times the time.
    int level = 11;
    // Event times are kept to this resolution (never moved across a snapshot or any other
    // record); 1 keeps them exact. Exact nanoseconds would cost more than everything else in
    // the compacted dump, and no report shows them.
    uint64_t time_quantum_ns = 100'000;
    bool progress = true; // show progress on a terminal (Progress decides whether it can)
    // An events frame is closed once its content reaches this many bytes (tests make it small
    // to cross frames with few events).
    uint32_t event_frame_bytes = 4 * 1024 * 1024;
    // Version of the compacted form to write: 3 (site mode, the default) or 2 (keeps which
    // block each free released and every address; for comparison). 0: the environment
    // variable MEMTRACE_COMPACT_VERSION if set, else 3.
    uint32_t version = 0;
};

struct CompactResult {
    uint64_t raw_bytes = 0;       // of the raw dump's file
    uint64_t compacted_bytes = 0; // of the compacted file
    uint64_t events = 0;          // Alloc and Free records
};

// Whether the file at `path` starts with the compacted form's magic. False for anything else,
// including a file that cannot be read (DumpReader then says why).
bool is_compacted_dump(const std::string& path);

// Writes the compacted form of the raw dump `input` to `output` (created or replaced), and
// flushes it to the disk. Throws DumpError for a dump it cannot read, std::system_error when
// the output cannot be written (then `output` is removed).
CompactResult write_compacted_dump(const std::string& input, const std::string& output,
                                   const CompactOptions& options);

// Replaces the raw dump at `path` with its compacted form, never losing it: the compacted file
// is written next to it and flushed, and only then renamed over it. On any failure the raw dump
// is left as it was (and the partial file removed) and the error is thrown.
CompactResult compact_dump_in_place(const std::string& path, const CompactOptions& options);

} // namespace memtrace
