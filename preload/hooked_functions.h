// The functions memtrace interposes, listed once (X-macro): X(name, return type, parameters).
// real_functions.cpp resolves each with dlsym(RTLD_NEXT); hooks.cpp defines the replacements.
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define MEMTRACE_HOOKED_FUNCTIONS(X)                                                               \
    X(malloc, void*, (size_t))                                                                     \
    X(free, void, (void*))                                                                         \
    X(calloc, void*, (size_t, size_t))                                                             \
    X(realloc, void*, (void*, size_t))                                                             \
    X(reallocarray, void*, (void*, size_t, size_t))                                                \
    X(posix_memalign, int, (void**, size_t, size_t))                                               \
    X(aligned_alloc, void*, (size_t, size_t))                                                      \
    X(memalign, void*, (size_t, size_t))                                                           \
    X(valloc, void*, (size_t))                                                                     \
    X(pvalloc, void*, (size_t))                                                                    \
    X(malloc_usable_size, size_t, (void*))                                                         \
    X(mmap, void*, (void*, size_t, int, int, int, off_t))                                          \
    X(mmap64, void*, (void*, size_t, int, int, int, off64_t))                                      \
    X(munmap, int, (void*, size_t))                                                                \
    X(mremap, void*, (void*, size_t, size_t, int, ...))                                            \
    X(dlopen, void*, (const char*, int))                                                           \
    X(dlclose, int, (void*))                                                                       \
    X(_exit, void, (int))                                                                          \
    X(_Exit, void, (int))                                                                          \
    X(execve, int, (const char*, char* const*, char* const*))                                      \
    X(execv, int, (const char*, char* const*))                                                     \
    X(execvp, int, (const char*, char* const*))                                                    \
    X(execvpe, int, (const char*, char* const*, char* const*))
