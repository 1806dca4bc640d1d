// Bytes as lower-case hex digits: build-ids in file names and messages.
#pragma once

#include <string>
#include <string_view>

namespace memtrace {

inline std::string hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char byte : bytes) {
        out.push_back(kDigits[byte >> 4]);
        out.push_back(kDigits[byte & 0xf]);
    }
    return out;
}

} // namespace memtrace
