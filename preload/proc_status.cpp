#include "proc_status.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

namespace memtrace::preload {
namespace {

// /proc/self/status is about 1.5 KiB; the fields we want come in its first half. A longer
// file (many groups, many CPUs in the masks) is read only as far as this buffer goes.
constexpr size_t kStatusBufferSize = 8192;
constinit char g_status[kStatusBufferSize]{};

struct Field {
    const char* name; // with the colon
    size_t name_length;
    uint64_t format::ProcessMemory::*member;
    uint64_t scale; // kB -> bytes, or 1 for a count
};

constexpr Field kFields[] = {
    {"VmRSS:", 6, &format::ProcessMemory::vm_rss, 1024},
    {"VmSize:", 7, &format::ProcessMemory::vm_size, 1024},
    {"VmHWM:", 6, &format::ProcessMemory::vm_hwm, 1024},
    {"RssAnon:", 8, &format::ProcessMemory::rss_anon, 1024},
    {"RssFile:", 8, &format::ProcessMemory::rss_file, 1024},
    {"Threads:", 8, &format::ProcessMemory::threads, 1},
};

// The first decimal number in [p, end), skipping blanks; 0 if there is none.
uint64_t number_at(const char* p, const char* end) {
    while (p < end && (*p == ' ' || *p == '\t'))
        ++p;
    uint64_t value = 0;
    for (; p < end && *p >= '0' && *p <= '9'; ++p)
        value = value * 10 + static_cast<uint64_t>(*p - '0');
    return value;
}

} // namespace

void parse_process_status(const char* text, size_t length, format::ProcessMemory* out) {
    *out = format::ProcessMemory{};
    const char* const end = text + length;
    for (const char* line = text; line < end;) {
        const char* newline =
            static_cast<const char*>(memchr(line, '\n', static_cast<size_t>(end - line)));
        const char* line_end = newline ? newline : end;
        for (const Field& field : kFields) {
            if (static_cast<size_t>(line_end - line) >= field.name_length &&
                memcmp(line, field.name, field.name_length) == 0) {
                out->*field.member = number_at(line + field.name_length, line_end) * field.scale;
                break;
            }
        }
        line = line_end + 1;
    }
}

bool read_process_memory(format::ProcessMemory* out) {
    *out = format::ProcessMemory{};
    const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    // One read: the kernel renders the whole file (one seq_file record) for every read() and
    // returns as much as fits, so a second call just to see end-of-file would double the cost.
    // Text beyond the buffer is not needed: the fields we want come first.
    ssize_t n;
    do {
        n = read(fd, g_status, sizeof(g_status));
    } while (n < 0 && errno == EINTR);
    const size_t length = n > 0 ? static_cast<size_t>(n) : 0;
    close(fd);
    if (length == 0) return false;
    parse_process_status(g_status, length, out);
    return true;
}

} // namespace memtrace::preload
