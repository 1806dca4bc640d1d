// /proc/self/maps, read raw into scan memory and parsed without allocating or using stdio.
#pragma once

#include "scan_arena.h"

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

enum class MappingName : uint8_t {
    Anonymous, // no name at all
    Heap,      // [heap], the brk area
    Stack,     // [stack], the main thread's stack
    Other,     // a file, [anon:...], [vdso], ...
};

struct Mapping {
    uintptr_t begin;
    uintptr_t end;
    bool readable;
    bool writable;
    bool is_private;
    MappingName name;
};

struct ProcessMaps {
    const Mapping* mappings = nullptr; // in address order, as the kernel lists them
    size_t count = 0;
};

// False when the file cannot be read or scan memory runs out.
bool read_process_maps(ScanArena& arena, ProcessMaps* out);

// Parses the text of a maps file (exposed for tests). Returns how many mappings were written
// to out (at most max); lines that do not parse are skipped.
size_t parse_process_maps(const char* text, size_t length, Mapping* out, size_t max);

} // namespace memtrace::preload
