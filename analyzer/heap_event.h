// One allocation event as the analyzer replays it, from a raw or a compacted dump.
#pragma once

#include "memtrace/dump_format.h"

#include <cstdint>

namespace memtrace {

// An Alloc or Free record, with its address and time resolved.
struct HeapEvent {
    enum class Type : uint8_t { Alloc, Free };
    Type type = Type::Alloc;
    format::AllocFunction function = format::AllocFunction::Malloc; // Alloc only
    uint32_t stack_id = format::kNoStack;                           // Alloc only
    uint32_t thread_index = 0;
    uint64_t time_ns = 0;
    uint64_t address = 0;
    uint64_t size = 0;   // Alloc only
    uint64_t offset = 0; // of the record in a raw dump; the event's index in a compacted one
};

} // namespace memtrace
