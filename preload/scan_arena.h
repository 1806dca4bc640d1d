// Memory of the leak scan: anonymous mappings taken straight from the kernel, remembered so that
// the scan never treats its own buffers (which hold heap addresses) as roots, and all given
// back when the scan ends. Used only by the thread that runs the scan.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

struct AddressRange {
    uintptr_t begin;
    uintptr_t end; // one past the last byte
};

class ScanArena {
public:
    static constexpr size_t kMaxRegions = 32;

    ScanArena() = default;
    ~ScanArena();
    ScanArena(const ScanArena&) = delete;
    ScanArena& operator=(const ScanArena&) = delete;

    // Zeroed pages (MAP_NORESERVE: only what is touched costs memory); nullptr on failure.
    void* allocate(size_t bytes);
    // Gives back a region from allocate(); nullptr is ignored.
    void release(void* region);

    size_t region_count() const {
        return count_;
    }
    AddressRange region(size_t i) const {
        return {reinterpret_cast<uintptr_t>(regions_[i].base),
                reinterpret_cast<uintptr_t>(regions_[i].base) + regions_[i].bytes};
    }

private:
    struct Region {
        void* base;
        size_t bytes;
    };
    Region regions_[kMaxRegions] = {};
    size_t count_ = 0;
};

} // namespace memtrace::preload
