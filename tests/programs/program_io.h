// Output helpers for the test programs. They write with write(2) instead of stdio, because
// stdio allocates its buffers with malloc and never frees them, which would add blocks the
// tests do not expect to every dump.
#ifndef MEMTRACE_TEST_PROGRAM_IO_H
#define MEMTRACE_TEST_PROGRAM_IO_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static inline void say(const char* text) {
    size_t left = strlen(text);
    while (left > 0) {
        ssize_t n = write(STDOUT_FILENO, text, left);
        if (n <= 0) return;
        text += n;
        left -= (size_t)n;
    }
}

// Formats into a stack buffer (snprintf does not allocate for integer conversions).
static inline void say_number(const char* label, long value) {
    char line[96];
    snprintf(line, sizeof line, "%s %ld\n", label, value);
    say(line);
}

// Writes "<pid>\n" to path atomically (temporary file + rename), so a reader polling for the
// file never sees it half written.
static inline int write_pid_file(const char* path) {
    char tmp[4096];
    char line[32];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int len = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (write(fd, line, (size_t)len) != len) {
        close(fd);
        return -1;
    }
    close(fd);
    return rename(tmp, path);
}

#endif
