// A whole file mapped read-only for the life of the object.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace memtrace {

class MappedFile {
public:
    // Throws DumpError if the file cannot be opened or is not a regular file. An empty file
    // gives an empty span (mmap cannot map zero bytes).
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const uint8_t> bytes() const {
        return {data_, size_};
    }
    uint64_t size() const {
        return size_;
    }

    // Gives the pages covering [begin, end) back to the kernel: they stay in the page cache but
    // stop counting in this process's memory, and are read again from the file if touched
    // later. Lets a reader stream through a file larger than it should hold in memory.
    void release(uint64_t begin, uint64_t end) const;

    // Copies `length` bytes at `offset` into `out` with pread, without mapping their pages into
    // this process (a reader that only looks at a few bytes of each page); false if the file
    // has fewer bytes there.
    bool read(uint64_t offset, void* out, size_t length) const;

private:
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
    int fd_ = -1;
};

} // namespace memtrace
