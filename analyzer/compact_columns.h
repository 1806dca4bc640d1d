// What the column codecs of compacted dumps share (compact_events.h, version 2;
// compact_sites.h, version 3): the frame layout
//   event_count:varint, one length (varint) per column, one tag byte per event, the columns
// and the tag bits both use.
#pragma once

#include "memtrace/varint.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace memtrace::compact {

// Tag bits common to every version.
inline constexpr uint8_t kTagFree = 1u << 0;
inline constexpr unsigned kTagFunctionShift = 1;
inline constexpr uint8_t kTagFunctionMask = 3u << kTagFunctionShift;
inline constexpr uint8_t kTagThread = 1u << 3;
inline constexpr uint8_t kTagTime = 1u << 7;

inline void append_varint(std::vector<uint8_t>& out, uint64_t value) {
    uint8_t bytes[format::kMaxVarintBytes];
    const uint8_t* end = format::write_varint(bytes, value);
    out.insert(out.end(), static_cast<const uint8_t*>(bytes), end);
}

// The common one-byte case inline; longer varints through the checked reader.
inline bool read_value(const uint8_t*& cursor, const uint8_t* end, uint64_t& value) {
    if (cursor != end && *cursor < 0x80) {
        value = *cursor++;
        return true;
    }
    return format::read_varint(&cursor, end, &value);
}

struct ColumnReader {
    const uint8_t* cursor = nullptr;
    const uint8_t* end = nullptr;
};

// Appends a frame's content to `out` and empties the tags and columns.
inline void write_column_frame(std::vector<uint8_t>& out, uint64_t count,
                               std::vector<uint8_t>& tags,
                               std::span<std::vector<uint8_t>> columns) {
    append_varint(out, count);
    for (const auto& column : columns)
        append_varint(out, column.size());
    out.insert(out.end(), tags.begin(), tags.end());
    tags.clear();
    for (auto& column : columns) {
        out.insert(out.end(), column.begin(), column.end());
        column.clear();
    }
}

// Splits a frame's content into its tags and columns; a problem in words, or empty.
inline std::string read_column_frame(std::span<const uint8_t> content, uint64_t& count,
                                     const uint8_t*& tags, std::span<ColumnReader> columns) {
    const uint8_t* cursor = content.data();
    const uint8_t* const end = cursor + content.size();
    if (!format::read_varint(&cursor, end, &count)) return "bad event count";
    std::vector<uint64_t> lengths(columns.size());
    for (uint64_t& length : lengths) {
        if (!format::read_varint(&cursor, end, &length)) return "bad column length";
    }
    uint64_t remaining = static_cast<uint64_t>(end - cursor);
    if (count > remaining) return "the tags run past the end of the frame";
    tags = cursor;
    remaining -= count;
    const uint8_t* next = tags + count;
    for (size_t i = 0; i < columns.size(); ++i) {
        if (lengths[i] > remaining) return "a column runs past the end of the frame";
        columns[i] = {next, next + lengths[i]};
        next += lengths[i];
        remaining -= lengths[i];
    }
    if (remaining != 0) return "bytes after the last column";
    return {};
}

// After a frame's last event: every column must be used up.
inline std::string check_columns_used(std::span<const ColumnReader> columns) {
    for (const ColumnReader& column : columns) {
        if (column.cursor != column.end) return "a column holds more values than its events use";
    }
    return {};
}

} // namespace memtrace::compact
