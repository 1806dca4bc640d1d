// The compacted form of a dump, written by `memtrace compact` (and by `memtrace run` once the
// program has ended) and read by DumpReader like a raw dump. docs/format.md explains it.
//
//   [Header, kHeaderSize bytes] [events section] [addressed section, version 3] [metadata section]
//
// A section is a run of frames: FrameHeader followed by one zstd frame (with content size and
// checksum). Frames are independent and end on a record boundary, so a reader decompresses one
// frame at a time into a buffer of at most kMaxFrameContent bytes.
//
// The metadata section holds every record that is not an Alloc or Free, merged from all chunks
// into one time order, as runs:
//   thread_index:varint  length:varint  records (raw record encoding, `length` bytes)
// A run's records all come from one thread; the first one's time delta counts from the time of
// the previous metadata record (0 at the start of the section), so a run decodes exactly as a
// raw chunk whose base time is that time.
//
// The events section holds every Alloc and Free, merged into one time order, in frames of
// columns (compact_events.h). Decoding state carries over from one frame to the next.
#pragma once

#include "memtrace/dump_format.h"

#include <cstddef>
#include <cstdint>

namespace memtrace::compact {

inline constexpr char kMagic[8] = {'M', 'T', 'Z', 'D', 'U', 'M', 'P', '\0'};
// 3: the site-mode event encoding of compact_sites.h (with the addressed section); 2: the
// event encoding of compact_events.h; 1: compact_events_v1.h (2 and 1 still read, and 2 still
// written on request: CompactOptions::version).
inline constexpr uint32_t kVersion = 3;
inline constexpr uint32_t kVersionSites = 3;
inline constexpr uint32_t kHeaderSize = 256;
// The writer closes a frame once it holds this much; one record may make it larger. Event
// frames are larger: zstd finds more repeats in them (measured: 1-2% smaller on churn).
inline constexpr uint32_t kFrameTarget = 1024 * 1024;
inline constexpr uint32_t kEventFrameTarget = 4 * 1024 * 1024; // also the most allowed
// A raw record is at most a chunk; a frame holds at most one record past the target.
inline constexpr uint32_t kMaxFrameContent = kEventFrameTarget + format::kMaxChunkSize + 64;

// Header::flags bits.
inline constexpr uint32_t kFlagCutShort = 1u << 0; // the raw dump ended before its data did

struct Section {
    uint64_t offset;        // of its first FrameHeader
    uint64_t bytes;         // all its frames with their headers
    uint64_t content_bytes; // decompressed
    uint64_t frames;
};

struct Header {
    char magic[8];                // kMagic; written last
    uint32_t version;             // kVersion
    uint32_t header_size;         // kHeaderSize; the first section starts at or after it
    format::FileHeader raw;       // the raw dump's header, as it was when compacted
    uint64_t raw_bytes;           // bytes of the raw dump that were read
    uint64_t event_count;         // Alloc and Free records
    uint64_t last_record_time_ns; // latest record time; raw.start_monotonic_ns if none
    uint32_t thread_count;        // threads that allocated or freed
    uint32_t flags;               // kFlag*
    Section events;
    Section metadata;
    uint64_t time_quantum_ns; // resolution of event times (1: exact); see compact_writer.h
    // Version 3: the addressed section (compact_sites.h), between the events and the metadata
    // sections (its bytes: metadata.offset - addressed_offset); 0 before.
    uint64_t addressed_offset;
    uint64_t addressed_frames;
};
static_assert(sizeof(Header) == kHeaderSize, "Header layout is part of the format");

struct FrameHeader {
    uint32_t compressed_size; // of the zstd frame that follows
    uint32_t content_size;    // decompressed; at most kMaxFrameContent
};
static_assert(sizeof(FrameHeader) == 8);

} // namespace memtrace::compact
