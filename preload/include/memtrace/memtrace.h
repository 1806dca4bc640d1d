/* memtrace's public C API, header-only, for C and C++.
 *
 *   #include <memtrace/memtrace.h>
 *   memtrace_snapshot("after-load");
 *
 * No library to link: the first call looks up libmemtrace.so's entry point with dlsym (in libc
 * itself since glibc 2.34) and caches the answer. Without memtrace (the program was not started
 * under `memtrace run`, or LD_PRELOAD did not load it) every call does nothing and returns -1,
 * so the calls can stay in production code. docs/design.md ("Snapshots") has the details.
 */
#ifndef MEMTRACE_MEMTRACE_H
#define MEMTRACE_MEMTRACE_H

#include <dlfcn.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*memtrace_snapshot_function)(const char*);

/* The implementation in libmemtrace.so, or NULL without it; looked up once per translation
 * unit (a race between threads only repeats the lookup). */
static inline memtrace_snapshot_function memtrace_snapshot_entry_(void) {
    /* 1: not looked up yet. (void*)0 is RTLD_DEFAULT, spelled out so that the header needs no
     * _GNU_SOURCE. */
    static memtrace_snapshot_function cached = (memtrace_snapshot_function)1;
    memtrace_snapshot_function entry = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
    if (entry == (memtrace_snapshot_function)1) {
        /* A union, because ISO C has no cast from an object pointer to a function pointer. */
        union {
            void* object;
            memtrace_snapshot_function function;
        } found;
        found.object = dlsym((void*)0, "memtrace_api_snapshot");
        entry = found.function;
        __atomic_store_n(&cached, entry, __ATOMIC_RELEASE);
    }
    return entry;
}

/* Writes a snapshot to the dump now, on the calling thread: the heap as it is at this point of
 * the thread's work, with the process's memory figures. `label` (may be NULL; at most 1024
 * bytes are kept) names it for `memtrace diff DUMP@label`. Returns 0 when the snapshot was
 * written, -1 when memtrace is absent or not recording. Not async-signal-safe. */
static inline int memtrace_snapshot(const char* label) {
    memtrace_snapshot_function entry = memtrace_snapshot_entry_();
    return entry ? entry(label) : -1;
}

#ifdef __cplusplus
}
#endif

#endif
