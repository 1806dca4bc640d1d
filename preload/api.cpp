// The implementation behind the public C API (include/memtrace/memtrace.h). The header finds
// this symbol with dlsym at run time, so a program built with it runs unchanged without memtrace.
#include "recorder.h"
#include "snapshot.h"

#include <string.h>

#define MEMTRACE_EXPORT extern "C" __attribute__((visibility("default")))

namespace mp = memtrace::preload;

// Takes a snapshot on the calling thread, between its events: 0 when written, -1 otherwise
// (recording is off, the process is ending, or the call came from inside memtrace).
MEMTRACE_EXPORT int memtrace_api_snapshot(const char* label) {
    if (!mp::should_record()) return -1;
    mp::BusyScope busy;
    const uint32_t length =
        label ? static_cast<uint32_t>(strnlen(label, mp::kMaxSnapshotLabel)) : 0;
    return mp::take_snapshot(memtrace::format::SnapshotTrigger::Api, label ? label : "", length)
               ? 0
               : -1;
}
