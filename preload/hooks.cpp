// The exported replacements of the malloc family and of the few other functions memtrace must
// see (mmap/munmap/mremap for anonymous mappings, dlopen/dlclose for the module map, _exit and
// exec for how the dump ends). Each body: bootstrap if the real function is not known yet, call
// the real one, record.
// Exception specifications follow glibc's declarations (__THROW), which C++ requires to match.
// mmap and mmap64 are both defined here, so the header must not rename mmap to mmap64 (which
// it does under _FILE_OFFSET_BITS=64, set by the build; off_t is 64 bits on LP64 anyway).
#undef _FILE_OFFSET_BITS
#include "bootstrap_arena.h"
#include "raw_syscalls.h"
#include "real_functions.h"
#include "recorder.h"
#include "sampler.h"
#include "unwinder.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEMTRACE_EXPORT extern "C" __attribute__((visibility("default")))

using memtrace::format::AllocFunction;
namespace mp = memtrace::preload;

namespace {

constexpr size_t kPageSize = 4096; // what valloc and pvalloc align to on x86-64

// Before the real allocator is resolved: start initialization once, then use the real one if
// it is known by now (the common case: the very first call of the process) or the bootstrap
// arena (a call made by dlsym while resolving).
[[gnu::cold]] bool ensure_real() {
    if (__atomic_load_n(&mp::g_real.malloc, __ATOMIC_ACQUIRE)) return true;
    mp::initialize();
    return __atomic_load_n(&mp::g_real.malloc, __ATOMIC_ACQUIRE) != nullptr;
}

inline bool real_known() {
    return __builtin_expect(__atomic_load_n(&mp::g_real.malloc, __ATOMIC_ACQUIRE) != nullptr, 1) ||
           ensure_real();
}

void* realloc_impl(void* old, size_t size) {
    if (old && mp::bootstrap_owns(old)) [[unlikely]] {
        // A bootstrap block moves to the real heap (and is recorded there, as a new block).
        void* moved = malloc(size);
        if (moved) {
            const size_t old_size = mp::bootstrap_size(old);
            memcpy(moved, old, old_size < size ? old_size : size);
        }
        return moved;
    }
    if (!real_known()) return mp::bootstrap_alloc(size);
    // Sampling on glibc: a recorded old block has a header to move (also once recording stopped).
    const bool headers = __atomic_load_n(&mp::g_sampled_headers, __ATOMIC_RELAXED);
    if (headers && old && mp::is_sampled_block(old)) return mp::realloc_sampled_block(old, size);
    if (headers || (mp::sampling_ready() &&
                    !(old && mp::g_sampled.may_contain(reinterpret_cast<uint64_t>(old))))) {
        // Sampling, and the old block was not recorded: its free needs no record either.
        void* p = mp::g_real.realloc(old, size);
        return p ? mp::after_alloc(p, size, AllocFunction::Realloc) : p;
    }
    const bool record = mp::should_record();
    // What the free of the old block needs is taken before the call: the real realloc may free
    // it (even unmap it), and another thread may get the address back at once.
    mp::PendingFree pending{};
    if (record && old) pending = mp::free_begin(old);
    void* p = mp::g_real.realloc(old, size);
    if (record) {
        // glibc's realloc(p, 0) frees p and returns NULL; a failed realloc leaves p alone.
        if (old) {
            if (p || size == 0) {
                mp::free_commit(old, pending);
            } else {
                mp::free_abort(old, pending);
            }
        }
        if (p) p = mp::on_alloc(p, size, AllocFunction::Realloc);
    }
    return p;
}

void* aligned_impl(void* (*real)(size_t, size_t), size_t alignment, size_t size) {
    if (!real_known()) return mp::bootstrap_alloc(size, alignment);
    void* p = real(alignment, size);
    return p ? mp::after_alloc(p, size, AllocFunction::Aligned, alignment) : p;
}

} // namespace

namespace {

[[gnu::noinline]] void* malloc_general(size_t size) {
    if (!real_known()) return mp::bootstrap_alloc(size);
    void* p = mp::g_real.malloc(size);
    return p ? mp::after_alloc(p, size, AllocFunction::Malloc) : p;
}

[[gnu::noinline]] void* malloc_with_sampler_work(size_t size) {
    mp::sampler_work_from_sampling();
    return mp::g_real.malloc(size);
}

} // namespace

MEMTRACE_EXPORT void* malloc(size_t size) __THROW {
    // Sampling counts most allocations before the call, and the hook ends in a tail call.
    switch (mp::count_small_alloc(size)) {
    case mp::SmallAlloc::Counted:
        return mp::g_real.malloc(size);
    case mp::SmallAlloc::SamplePoint:
        return mp::malloc_at_sample_point(size);
    case mp::SmallAlloc::SamplerWork:
        return malloc_with_sampler_work(size);
    case mp::SmallAlloc::General:
        break;
    }
    return malloc_general(size);
}

namespace {

// Out of line, so that the common path of free() needs no stack frame: only tail calls.
[[gnu::noinline]] void free_general(void* p) {
    if (!p) return;
    mp::before_free(p);
    if (mp::g_real.free) mp::g_real.free(p);
}

} // namespace

MEMTRACE_EXPORT void free(void* p) __THROW {
    // Recorded before the block goes back: once freed, another thread may get the address.
    // The sampler's work is served from allocations only (docs/design.md, "Sampling").
    if (__atomic_load_n(&mp::g_sampled_headers, __ATOMIC_RELAXED)) {
        if (!p) return;
        // Bootstrap blocks carry the magic word too: the slow path tells them apart.
        if (__builtin_expect(mp::is_sampled_block(p), 0)) return mp::free_sampled_block(p);
        return mp::g_real.free(p);
    }
    if (mp::bootstrap_owns(p)) return;
    // Once sampling is ready the filter lets through only the frees of blocks that may have
    // been sampled; before that, and when tracing fully, all of them (sampled_address_set.h).
    // Null goes on too, or straight to the real free, which ignores it.
    if (__builtin_expect(mp::g_sampled.may_contain(reinterpret_cast<uint64_t>(p)), 0))
        return free_general(p);
    return mp::g_real.free(p);
}

MEMTRACE_EXPORT void* calloc(size_t count, size_t size) __THROW {
    if (!real_known()) {
        size_t total;
        if (__builtin_mul_overflow(count, size, &total)) return nullptr;
        return mp::bootstrap_alloc(total);
    }
    void* p = mp::g_real.calloc(count, size);
    return p ? mp::after_alloc(p, count * size, AllocFunction::Calloc) : p;
}

MEMTRACE_EXPORT void* realloc(void* old, size_t size) __THROW {
    return realloc_impl(old, size);
}

MEMTRACE_EXPORT void* reallocarray(void* old, size_t count, size_t size) __THROW {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return nullptr;
    }
    return realloc_impl(old, total);
}

MEMTRACE_EXPORT int posix_memalign(void** out, size_t alignment, size_t size) __THROW {
    if (!real_known()) {
        *out = mp::bootstrap_alloc(size, alignment);
        return *out ? 0 : ENOMEM;
    }
    const int rc = mp::g_real.posix_memalign(out, alignment, size);
    if (rc == 0) *out = mp::after_alloc(*out, size, AllocFunction::Aligned, alignment);
    return rc;
}

MEMTRACE_EXPORT void* aligned_alloc(size_t alignment, size_t size) __THROW {
    return aligned_impl(mp::g_real.aligned_alloc, alignment, size);
}

MEMTRACE_EXPORT void* memalign(size_t alignment, size_t size) __THROW {
    return aligned_impl(mp::g_real.memalign, alignment, size);
}

MEMTRACE_EXPORT void* valloc(size_t size) __THROW {
    if (!real_known()) return mp::bootstrap_alloc(size, kPageSize);
    void* p = mp::g_real.valloc(size);
    return p ? mp::after_alloc(p, size, AllocFunction::Aligned, kPageSize) : p;
}

MEMTRACE_EXPORT void* pvalloc(size_t size) __THROW {
    if (!real_known()) return mp::bootstrap_alloc(size, kPageSize);
    void* p = mp::g_real.pvalloc(size);
    return p ? mp::after_alloc(p, size, AllocFunction::Aligned, kPageSize) : p;
}

MEMTRACE_EXPORT size_t malloc_usable_size(void* p) __THROW {
    if (p && mp::bootstrap_owns(p)) return mp::bootstrap_size(p);
    if (!real_known() || !mp::g_real.malloc_usable_size) return 0;
    if (p && __atomic_load_n(&mp::g_sampled_headers, __ATOMIC_RELAXED) && mp::is_sampled_block(p))
        return mp::g_real.malloc_usable_size(mp::sampled_base(p)) - mp::sampled_header(p)->offset;
    return mp::g_real.malloc_usable_size(p);
}

// Mappings. memtrace's own mappings use raw_syscalls.h and never come here; before the real
// functions are resolved these go to the kernel directly. Only what the app (or a library it
// uses) asks for through these symbols is seen: glibc's malloc maps its large blocks and heaps
// with internal calls that bypass them (docs/design.md, "Mappings").
namespace {

inline bool mapping_recordable(int flags) {
    return (flags & MAP_ANONYMOUS) && mp::should_record();
}

} // namespace

MEMTRACE_EXPORT void* mmap(void* address, size_t length, int prot, int flags, int fd,
                           off_t offset) __THROW {
    void* p = real_known() && mp::g_real.mmap
                  ? mp::g_real.mmap(address, length, prot, flags, fd, offset)
                  : mp::raw_mmap(address, length, prot, flags, fd, offset);
    if (p != MAP_FAILED && mapping_recordable(flags)) mp::record_map(p, length, prot, flags);
    return p;
}

MEMTRACE_EXPORT void* mmap64(void* address, size_t length, int prot, int flags, int fd,
                             off64_t offset) __THROW {
    void* p = real_known() && mp::g_real.mmap64
                  ? mp::g_real.mmap64(address, length, prot, flags, fd, offset)
                  : mp::raw_mmap(address, length, prot, flags, fd, offset);
    if (p != MAP_FAILED && mapping_recordable(flags)) mp::record_map(p, length, prot, flags);
    return p;
}

MEMTRACE_EXPORT int munmap(void* address, size_t length) __THROW {
    // Every successful munmap is recorded (the reader keeps only what intersects a Map).
    const bool record = mp::should_record();
    const uint64_t before = record ? mp::now_for_free(nullptr) : 0;
    const int rc = real_known() && mp::g_real.munmap ? mp::g_real.munmap(address, length)
                                                     : mp::raw_munmap(address, length);
    if (rc == 0 && record) mp::record_unmap(address, length, before);
    return rc;
}

MEMTRACE_EXPORT void* mremap(void* old_address, size_t old_length, size_t new_length, int flags,
                             ...) __THROW {
    void* wanted = nullptr;
    if (flags & MREMAP_FIXED) { // the fifth argument exists only then
        va_list args;
        va_start(args, flags);
        wanted = va_arg(args, void*);
        va_end(args);
    }
    const bool record = mp::should_record();
    const uint64_t before = record ? mp::now_for_free(nullptr) : 0;
    void* p = real_known() && mp::g_real.mremap
                  ? mp::g_real.mremap(old_address, old_length, new_length, flags, wanted)
                  : mp::raw_mremap(old_address, old_length, new_length, flags, wanted);
    if (p != MAP_FAILED && record) {
        if (flags & MREMAP_DONTUNMAP) {
            // The old range stays mapped (emptied): the new range is a mapping of its own.
            mp::record_map(p, new_length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        } else {
            mp::record_remap(old_address, old_length, p, new_length, before);
        }
    }
    return p;
}

MEMTRACE_EXPORT void* dlopen(const char* file, int mode) __THROWNL {
    real_known();
    void* handle = mp::g_real.dlopen(file, mode);
    if (handle) mp::on_dlopen_or_dlclose();
    return handle;
}

MEMTRACE_EXPORT int dlclose(void* handle) __THROWNL {
    real_known();
    // Before and after: a thread unwinding meanwhile must not keep rules of the unloaded code.
    mp::unwinder_forget_modules();
    const int rc = mp::g_real.dlclose(handle);
    mp::unwinder_forget_modules();
    if (rc == 0) mp::on_dlopen_or_dlclose();
    return rc;
}

MEMTRACE_EXPORT void _exit(int status) {
    mp::on_quick_exit(status);
    real_known();
    mp::g_real._exit(status);
    __builtin_unreachable();
}

MEMTRACE_EXPORT void _Exit(int status) __THROW {
    mp::on_quick_exit(status);
    real_known();
    mp::g_real._Exit(status);
    __builtin_unreachable();
}

MEMTRACE_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) __THROW {
    real_known();
    mp::on_exec_attempt();
    const int rc = mp::g_real.execve(path, argv, envp);
    mp::on_exec_failed();
    return rc;
}

MEMTRACE_EXPORT int execv(const char* path, char* const argv[]) __THROW {
    real_known();
    mp::on_exec_attempt();
    const int rc = mp::g_real.execv(path, argv);
    mp::on_exec_failed();
    return rc;
}

MEMTRACE_EXPORT int execvp(const char* file, char* const argv[]) __THROW {
    real_known();
    mp::on_exec_attempt();
    const int rc = mp::g_real.execvp(file, argv);
    mp::on_exec_failed();
    return rc;
}

MEMTRACE_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) __THROW {
    real_known();
    mp::on_exec_attempt();
    const int rc = mp::g_real.execvpe(file, argv, envp);
    mp::on_exec_failed();
    return rc;
}

// Start as soon as the library is loaded, so that even a program that never allocates gets a
// dump, and the process facts are taken before main(). The sampler thread starts here rather
// than in initialize(), which may run inside the very first malloc, before libc can create
// threads.
__attribute__((constructor(101))) static void memtrace_constructor() {
    mp::initialize();
    mp::sampler_schedule_at_load();
}
