// LEB128 varints as used by the dump format. The writer side is branch-light and never reads
// past its buffer; the reader side lives in the analyzer (it must bound-check against the file).
#pragma once

#include <stdint.h>

namespace memtrace::format {

// The longest encoding of a 64-bit value.
inline constexpr unsigned kMaxVarintBytes = 10;

inline constexpr uint64_t zigzag_encode(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline constexpr int64_t zigzag_decode(uint64_t v) {
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Writes v at out (which must have kMaxVarintBytes of room); returns the byte after it.
inline uint8_t* write_varint(uint8_t* out, uint64_t v) {
    while (v >= 0x80) {
        *out++ = static_cast<uint8_t>(v | 0x80);
        v >>= 7;
    }
    *out++ = static_cast<uint8_t>(v);
    return out;
}

// Reads a varint from [*cursor, end). Returns false, leaving *cursor alone, if the encoding
// runs past end or is longer than kMaxVarintBytes.
inline bool read_varint(const uint8_t** cursor, const uint8_t* end, uint64_t* value) {
    const uint8_t* p = *cursor;
    uint64_t result = 0;
    for (unsigned shift = 0, i = 0; i < kMaxVarintBytes; ++i, shift += 7) {
        if (p == end) return false;
        const uint8_t byte = *p++;
        result |= static_cast<uint64_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            *cursor = p;
            *value = result;
            return true;
        }
    }
    return false;
}

} // namespace memtrace::format
