// Building short texts (file names, notes, diagnostics) without stdio, which may allocate:
// each function appends to [out, end) as much as fits and returns the new end of the text.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace memtrace::preload {

inline char* append_text(char* out, const char* end, const char* text, size_t length) {
    if (length > static_cast<size_t>(end - out)) length = static_cast<size_t>(end - out);
    memcpy(out, text, length);
    return out + length;
}

// The digits of value in base 10 or 16 (lower case), no prefix.
inline char* append_unsigned(char* out, const char* end, uint64_t value, unsigned base = 10) {
    char digits[24];
    int n = 0;
    do {
        const unsigned digit = static_cast<unsigned>(value % base);
        digits[n++] = static_cast<char>(digit < 10 ? '0' + digit : 'a' + digit - 10);
        value /= base;
    } while (value);
    while (n && out < end)
        *out++ = digits[--n];
    return out;
}

} // namespace memtrace::preload
