// CPython's small-object allocator (pymalloc) takes memory in fixed-size arenas straight from
// mmap and carves objects of up to 512 bytes out of them, so those objects never reach malloc.
// Its arenas are recognised here by where the mmap call came from (a module named python* or
// libpython*), and their size is measured from the calls rather than assumed (CPython 3.10 and
// later use 1 MiB arenas on 64-bit Linux, older versions 256 KiB).
#pragma once

#include "dump_reader.h"
#include "memory/anonymous_mappings.h"

#include <cstdint>
#include <string>
#include <vector>

namespace memtrace::memory {

// CPython's arenas have never been smaller than this (256 KiB up to 3.9, 1 MiB since 3.10).
// Python also maps smaller regions itself (3.11's frame stack chunks are 16 KiB): those are not
// taken for arenas.
inline constexpr uint64_t kMinPymallocArena = 256 * 1024;

struct PythonArenas {
    bool detected = false;      // pymalloc arenas were mapped
    std::string module;         // path of the Python module that mapped memory
    uint64_t arena_size = 0;    // of the lengths of at least kMinPymallocArena, the most asked for
    uint64_t arenas_mapped = 0; // mmap calls of that length from Python so far
    // Everything Python mapped itself and is still mapped (arenas and smaller regions).
    uint64_t live_bytes = 0;
    uint64_t live_regions = 0;
    std::vector<uint32_t> stack_ids; // the stacks of Python's mappings, largest live first
};

// The module the stack's caller code is in: its first frame outside memtrace, libc and the
// dynamic loader. nullptr when unknown.
const ModuleInfo* calling_module(const DumpReader& reader, uint32_t stack_id);

// Whether a module path names a Python interpreter or libpython.
bool is_python_module(const std::string& path);

// `sites` as AnonymousMappings::sites() gives them.
PythonArenas find_python_arenas(const DumpReader& reader, const std::vector<MappingSite>& sites);

} // namespace memtrace::memory
