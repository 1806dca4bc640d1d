// glibc's malloc_info() XML, captured into memory memtrace owns. malloc_info() only writes to a
// FILE*, so the text goes through a fopencookie() stream whose sink appends to an mmap'd buffer;
// the stream and its stdio buffer are made once and reused for every snapshot.
#pragma once

#include <stdint.h>

namespace memtrace::preload {

// Creates the stream. fopencookie() allocates the FILE with the real malloc, so call it on a
// busy thread, and preferably on a thread that has allocated before: a thread's first malloc
// attaches it to an arena, possibly a new one. Idempotent; false if the stream cannot be made.
bool malloc_info_prepare();

// Runs malloc_info(0, ...) and returns its text (not NUL-terminated) and length, at most
// format::kMaxMallocInfoLength (longer text is cut there). nullptr if the stream cannot be made.
// Callers serialize (snapshot.cpp holds its lock) and are busy.
const char* capture_malloc_info(uint32_t* length);

} // namespace memtrace::preload
