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
namespace {

// Closes the descriptor once the mapping exists (or the constructor gives up).
struct FileDescriptor {
    int fd;
    ~FileDescriptor() {
        if (fd >= 0) ::close(fd);
    }
};

} // namespace

MappedFile::MappedFile(const std::string& path) {
    // O_NONBLOCK so that a FIFO given by mistake fails the regular-file check instead of
    // blocking in open().
    const FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
    if (file.fd < 0) {
        throw DumpError(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    }
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) {
        throw DumpError(fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
    }
    if (S_ISDIR(st.st_mode)) throw DumpError(fmt::format("{} is a directory, not a dump", path));
    if (!S_ISREG(st.st_mode)) {
        throw DumpError(fmt::format("{} is not a regular file, so not a dump", path));
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ == 0) return;
    void* mapping = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, file.fd, 0);
    if (mapping == MAP_FAILED) {
        throw DumpError(fmt::format("cannot map {}: {}", path, std::strerror(errno)));
    }
    data_ = static_cast<const uint8_t*>(mapping);
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
}

} // namespace memtrace
