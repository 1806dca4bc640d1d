// TEMPORARY: the record types of the DumpReader v2 API (notes/reader_api.md), until the lead's
// dump_reader.h lands on main. Deleted at that merge; nothing else may include it.
#pragma once

#include "memtrace/dump_format.h"
#include "memtrace/record_encoding.h"

#include <cstdint>
#include <string>
#include <vector>

namespace memtrace {

struct SnapshotMark {
    uint64_t time_ns = 0;
    format::SnapshotTrigger trigger = format::SnapshotTrigger::Interval;
    std::string label;
    uint32_t thread_index = 0;
};
struct ProcessMemorySample {
    uint64_t time_ns = 0;
    format::ProcessMemory memory{};
};
struct MallocInfoSample {
    uint64_t time_ns = 0;
    std::string xml;
};
struct SizeClassSample {
    uint64_t time_ns = 0;
    std::vector<format::SizeClassCounts> classes;
};
struct MemoryMapEvent {
    format::MemoryMapOp op = format::MemoryMapOp::Map;
    uint64_t time_ns = 0;
    uint64_t address = 0, length = 0;
    uint64_t new_address = 0, new_length = 0;
    uint32_t prot = 0, flags = 0;
    uint32_t stack_id = format::kNoStack;
    uint32_t thread_index = 0;
};

} // namespace memtrace
