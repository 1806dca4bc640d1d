#include "process_facts.h"

#include "chunk_writer.h"
#include "memtrace/record_encoding.h"
#include "options.h"

#include <fcntl.h>
#include <unistd.h>

namespace memtrace::preload {
namespace {

// Command lines longer than this are cut (the record says only what fits).
constexpr uint32_t kMaxCmdline = 32 * 1024;
constinit char g_cmdline[kMaxCmdline]{};

uint32_t read_cmdline() {
    const int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    uint32_t length = 0;
    while (length < kMaxCmdline) {
        const ssize_t n = read(fd, g_cmdline + length, kMaxCmdline - length);
        if (n <= 0) break;
        length += static_cast<uint32_t>(n);
    }
    close(fd);
    return length;
}

} // namespace

void write_process_info(uint64_t now) {
    char exe[kPathMax];
    ssize_t exe_length = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (exe_length < 0) exe_length = 0;
    const uint32_t cmdline_length = read_cmdline();
    ChunkCursor& cursor = t_thread.cursor;
    const uint64_t room =
        format::process_info_record_size(static_cast<uint32_t>(exe_length), cmdline_length);
    uint8_t* out = chunk_reserve(cursor, static_cast<uint32_t>(room), now);
    if (!out) return;
    out = format::encode_process_info(out, chunk_time_delta(cursor, now), exe,
                                      static_cast<uint32_t>(exe_length), g_cmdline, cmdline_length);
    chunk_commit(cursor, out);
}

} // namespace memtrace::preload
