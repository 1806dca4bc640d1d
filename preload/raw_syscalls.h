// Memory-mapping calls for memtrace's own use. libmemtrace.so exports mmap, munmap and mremap
// hooks, and a call to `mmap` from inside the library would bind to that hook (the symbol is
// global), be recorded as the app's mapping and possibly recurse. These go straight to the kernel
// instead, so they also work before the real functions are resolved.
#pragma once

#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace memtrace::preload {

// As mmap(2): MAP_FAILED (and errno) on failure.
inline void* raw_mmap(void* address, size_t length, int prot, int flags, int fd, off_t offset) {
    const long result = syscall(SYS_mmap, address, length, prot, flags, fd, offset);
    return result == -1 ? MAP_FAILED : reinterpret_cast<void*>(result);
}

inline int raw_munmap(void* address, size_t length) {
    return static_cast<int>(syscall(SYS_munmap, address, length));
}

inline void* raw_mremap(void* old_address, size_t old_length, size_t new_length, int flags,
                        void* new_address) {
    const long result =
        syscall(SYS_mremap, old_address, old_length, new_length, flags, new_address);
    return result == -1 ? MAP_FAILED : reinterpret_cast<void*>(result);
}

} // namespace memtrace::preload
