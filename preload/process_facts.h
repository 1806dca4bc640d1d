// Facts about the traced process written once per dump: its executable and command line.
#pragma once

#include <stdint.h>

namespace memtrace::preload {

// Writes a ProcessInfo record to the calling thread's chunk.
void write_process_info(uint64_t now);

} // namespace memtrace::preload
