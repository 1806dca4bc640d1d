#include "mapped_file.h"

#include "dump_error.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace memtrace {
MappedFile::MappedFile(const std::string& path) {
    // O_NONBLOCK so that a FIFO given by mistake fails the regular-file check instead of
    // blocking in open().
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) {
        throw DumpError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    }
    // The descriptor stays open for read(); closed here if the constructor gives up.
    struct CloseOnThrow {
        int& fd;
        bool armed = true;
        ~CloseOnThrow() {
            if (armed) {
                ::close(fd);
                fd = -1;
            }
        }
    } guard{fd_};
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        throw DumpError(fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
    }
    if (S_ISDIR(st.st_mode)) throw DumpError(fmt::format("{} is a directory, not a dump", path));
    if (!S_ISREG(st.st_mode)) {
        throw DumpError(fmt::format("{} is not a regular file, so not a dump", path));
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ != 0) {
        void* mapping = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
        if (mapping == MAP_FAILED) {
            throw DumpError(fmt::format("cannot map {}: {}", path, std::strerror(errno)));
        }
        data_ = static_cast<const uint8_t*>(mapping);
    }
    guard.armed = false;
}

bool MappedFile::read(uint64_t offset, void* out, size_t length) const {
    auto* bytes = static_cast<uint8_t*>(out);
    while (length != 0) {
        const ssize_t got = ::pread(fd_, bytes, length, static_cast<off_t>(offset));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        bytes += got;
        offset += static_cast<uint64_t>(got);
        length -= static_cast<size_t>(got);
    }
    return true;
}

void MappedFile::release(uint64_t begin, uint64_t end) const {
    static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    end = std::min(end, size_);
    if (data_ == nullptr || begin >= end) return;
    begin -= begin % page;
    // Advice only: a failure changes nothing the reader sees.
    ::madvise(const_cast<uint8_t*>(data_) + begin, end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
}

} // namespace memtrace
