#include "process_maps.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

namespace memtrace::preload {
namespace {

bool parse_hex(const char*& p, const char* end, uintptr_t* value) {
    uintptr_t v = 0;
    const char* start = p;
    for (; p < end; ++p) {
        const char c = *p;
        unsigned digit;
        if (c >= '0' && c <= '9')
            digit = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = static_cast<unsigned>(c - 'a' + 10);
        else
            break;
        v = v << 4 | digit;
    }
    *value = v;
    return p != start;
}

// One line "begin-end perms offset dev inode   name" (name optional).
bool parse_line(const char* p, const char* end, Mapping* out) {
    uintptr_t begin, finish;
    if (!parse_hex(p, end, &begin) || p == end || *p++ != '-' || !parse_hex(p, end, &finish))
        return false;
    if (end - p < 5 || *p++ != ' ') return false;
    out->begin = begin;
    out->end = finish;
    out->readable = p[0] == 'r';
    out->writable = p[1] == 'w';
    out->is_private = p[3] == 'p';
    p += 4;
    // Skip offset, dev and inode: three more space-separated fields.
    for (int field = 0; field < 3; ++field) {
        while (p < end && *p == ' ')
            ++p;
        while (p < end && *p != ' ')
            ++p;
    }
    while (p < end && *p == ' ')
        ++p;
    const size_t name_length = static_cast<size_t>(end - p);
    if (name_length == 0)
        out->name = MappingName::Anonymous;
    else if (name_length == 6 && memcmp(p, "[heap]", 6) == 0)
        out->name = MappingName::Heap;
    else if (name_length == 7 && memcmp(p, "[stack]", 7) == 0)
        out->name = MappingName::Stack;
    else
        out->name = MappingName::Other;
    return begin < finish;
}

} // namespace

size_t parse_process_maps(const char* text, size_t length, Mapping* out, size_t max) {
    size_t count = 0;
    const char* p = text;
    const char* const end = text + length;
    while (p < end && count < max) {
        const char* line_end =
            static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
        if (!line_end) line_end = end;
        if (parse_line(p, line_end, &out[count])) ++count;
        p = line_end + 1;
    }
    return count;
}

bool read_process_maps(ScanArena& arena, ProcessMaps* out) {
    // The file has no size; read it whole, doubling the buffer until it fits.
    for (size_t capacity = size_t{1} << 20; capacity <= size_t{1} << 30; capacity *= 2) {
        auto* text = static_cast<char*>(arena.allocate(capacity));
        if (!text) return false;
        const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            arena.release(text);
            return false;
        }
        size_t length = 0;
        bool failed = false;
        while (length < capacity) {
            const ssize_t n = read(fd, text + length, capacity - length);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) failed = true;
            if (n <= 0) break;
            length += static_cast<size_t>(n);
        }
        close(fd);
        if (failed) {
            arena.release(text);
            return false;
        }
        if (length == capacity) { // may be cut short: try again with more room
            arena.release(text);
            continue;
        }
        // A line is at least ~30 bytes, so this bounds the number of mappings.
        const size_t max = length / 25 + 1;
        auto* mappings = static_cast<Mapping*>(arena.allocate(max * sizeof(Mapping)));
        if (!mappings) {
            arena.release(text);
            return false;
        }
        out->count = parse_process_maps(text, length, mappings, max);
        out->mappings = mappings;
        // The text stays allocated: it is listed in the maps just read, and unmapping it now
        // would leave a hole that the scan would try to read.
        return true;
    }
    return false;
}

} // namespace memtrace::preload
