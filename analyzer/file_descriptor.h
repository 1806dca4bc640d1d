// Owns a file descriptor and closes it: for the analyzer's own open()s (the launcher's checks of
// the program and the dump, the tests of the inflated debug copy).
#pragma once

#include <unistd.h>

namespace memtrace {

class FileDescriptor {
public:
    explicit FileDescriptor(int fd) : fd_(fd) {
    }
    ~FileDescriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const {
        return fd_;
    }

private:
    int fd_;
};

} // namespace memtrace
