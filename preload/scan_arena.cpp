#include "scan_arena.h"

#include "raw_syscalls.h"

#include <sys/mman.h>
#include <unistd.h>

namespace memtrace::preload {

ScanArena::~ScanArena() {
    for (size_t i = 0; i < count_; ++i)
        raw_munmap(regions_[i].base, regions_[i].bytes);
}

void* ScanArena::allocate(size_t bytes) {
    if (count_ == kMaxRegions || bytes == 0) return nullptr;
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    bytes = (bytes + page - 1) & ~(page - 1);
    void* p = raw_mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    regions_[count_++] = Region{p, bytes};
    return p;
}

void ScanArena::release(void* region) {
    if (!region) return;
    for (size_t i = 0; i < count_; ++i) {
        if (regions_[i].base != region) continue;
        raw_munmap(regions_[i].base, regions_[i].bytes);
        regions_[i] = regions_[--count_];
        return;
    }
}

} // namespace memtrace::preload
