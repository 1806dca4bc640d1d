// The process's memory figures from /proc/self/status, read without allocating: a ProcessMemory
// record is taken with every snapshot, possibly on a thread that is inside the app's code.
#pragma once

#include "memtrace/record_encoding.h"

#include <stddef.h>

namespace memtrace::preload {

// Fills `out` from the text of /proc/<pid>/status: VmRSS, VmSize, VmHWM, RssAnon and RssFile
// (given in kB there, stored in bytes) and Threads. A field that is missing stays 0.
void parse_process_status(const char* text, size_t length, format::ProcessMemory* out);

// Reads /proc/self/status into a static buffer and parses it. False (and `out` zeroed) when the
// file cannot be read. Not reentrant: callers serialize (snapshot.cpp holds its lock).
bool read_process_memory(format::ProcessMemory* out);

} // namespace memtrace::preload
