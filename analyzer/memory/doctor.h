// The memory doctor: accounts for the process's resident memory at one memory sample (the one
// at exit, normally) and turns what stands out into findings. Every finding carries the
// measured number it rests on; advice is given only where a measured figure calls for it
// (the thresholds are below and in docs/memory.md).
#pragma once

#include "memory/anonymous_mappings.h"
#include "memory/memory_samples.h"
#include "memory/python_arenas.h"
#include "memory/size_histogram.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace memtrace::memory {

// A figure is worth a finding when it is at least this large...
inline constexpr uint64_t kNotableBytes = 1024 * 1024;
// ...and at least this share of RSS (of the live heap, for internal waste).
inline constexpr double kNotableShare = 0.10;
// glibc reserves this much address space for each heap of a thread arena (HEAP_MAX_SIZE on
// 64-bit: 2 * the largest mmap threshold).
inline constexpr uint64_t kThreadHeapReserve = 64ull * 1024 * 1024;
// Mapping stacks listed by name in the mmap finding.
inline constexpr size_t kMappingSitesShown = 5;

struct DoctorInput {
    const MemorySample* sample = nullptr; // nullptr: the dump has no memory sample
    uint64_t start_time_ns = 0;           // the process's start, for "N s after start"
    bool at_exit = false;                 // the sample was taken as the process exited
    uint64_t sample_bytes = 0;            // the dump's sampling period; 0 = every allocation
    uint64_t live_heap_bytes = 0;         // at the sample (estimates when sampled)
    uint64_t live_heap_blocks = 0;
    std::vector<ClassLive> live_by_class; // at the sample
    // Size-class totals recorded with (or last before) the sample; nullptr when none.
    const std::vector<format::SizeClassCounts>* size_classes = nullptr;
    std::vector<MappingSite> mapping_sites; // mapped at the sample, Python's excluded
    PythonArenas python;                    // as mapped at the sample
    uint64_t max_threads = 0;               // the most threads any sample saw
    bool sampler_thread = false;            // memtrace's sampler thread is one of them
};

struct Accounting {
    format::ProcessMemory process{};
    uint64_t live_heap_bytes = 0;
    uint64_t live_heap_blocks = 0;
    bool has_malloc_info = false;
    // From malloc_info (0 without it):
    uint32_t arena_count = 0;
    uint64_t thread_heaps = 0;        // heaps of the thread arenas
    uint64_t arena_system_bytes = 0;  // obtained from the kernel by the arenas
    uint64_t mmapped_block_bytes = 0; // malloc blocks with a mapping of their own
    uint64_t mmapped_blocks = 0;
    uint64_t heap_in_use_bytes = 0; // arenas' in-use chunks + mmapped blocks
    uint64_t arena_free_bytes = 0;  // free chunks kept by the arenas (incl. top chunks)
    uint64_t arena_free_chunks = 0;
    uint64_t small_free_bytes = 0; // in free chunks smaller than a page
    uint64_t thread_arena_free_bytes = 0;
    int64_t overhead_bytes = 0; // heap_in_use - live heap (negative: see the note)
    std::optional<uint64_t> internal_waste_bytes; // estimated; needs size-class totals
    int64_t other_overhead_bytes = 0;             // overhead - internal waste
    // From the mmap hooks:
    uint64_t anon_mmap_bytes = 0; // mapped by the program, Python's arenas excluded
    uint64_t anon_mmap_regions = 0;
    uint64_t python_arena_bytes = 0;
    // Anonymous RSS less everything above; negative when the heap and mappings span more than
    // is resident (untouched or released pages).
    int64_t unexplained_bytes = 0;
};

struct Finding {
    std::string kind; // free_retained, internal_waste, allocator_overhead, arenas, mmap,
                      // pymalloc, unexplained, sampled, malloc_info_missing
    uint64_t bytes = 0;
    std::string message;          // what was measured
    std::string advice;           // what to do; empty when the numbers call for nothing
    std::vector<uint32_t> stacks; // stacks the finding is about (mmap, pymalloc)
};

struct Diagnosis {
    bool available = false;
    bool sampler_thread = false; // one of the process's threads is memtrace's sampler
    std::string unavailable_reason;
    uint64_t time_ns = 0;
    bool at_exit = false;
    bool sampled = false;
    Accounting accounting;
    std::vector<Finding> findings;
};

Diagnosis diagnose(const DoctorInput& input);

} // namespace memtrace::memory
