// The process-memory figures recorded together (at each snapshot and at exit): the process's
// /proc status figures, glibc's malloc_info() and the size-class totals, paired up by time.
#pragma once

#include "dump_reader.h"
#include "memory/malloc_info.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace memtrace::memory {

struct MemorySample {
    uint64_t time_ns = 0; // of the first record of the group
    std::optional<format::ProcessMemory> process;
    std::optional<MallocInfo> malloc_info;
    std::string malloc_info_error; // why the recorded XML could not be read; empty if it could
    const SizeClassSample* size_classes = nullptr; // points into the reader's samples
};

// Groups the records in time order: a group starts afresh when a record of a kind it already
// holds arrives, so records written together for one snapshot end up in one sample whatever
// order they were written in. A malloc_info text that does not parse is kept as an error.
std::vector<MemorySample> pair_samples(const std::vector<ProcessMemorySample>& process,
                                       const std::vector<MallocInfoSample>& malloc_info,
                                       const std::vector<SizeClassSample>& size_classes);

// The last sample with process figures (the one at exit, when the process exited normally).
// nullptr when there is none.
const MemorySample* last_accountable_sample(const std::vector<MemorySample>& samples);

} // namespace memtrace::memory
