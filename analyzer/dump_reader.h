// Reads a memtrace dump: checks the header, collects the metadata (stacks, modules, process
// facts) in a first pass over the chunks, then streams allocation events in global time order.
//
// Memory stays proportional to the stacks and chunks in the dump, never to the number of
// events. Anything that contradicts the format throws DumpError naming the file and the byte
// offset. A file cut short (the writer's machine crashed, or the copy was interrupted) is not
// an error: the whole records before the cut are read, one warning is logged, and the dump
// counts as incomplete.
#pragma once

#include "dump_error.h"
#include "heap_event.h"
#include "mapped_file.h"
#include "memtrace/dump_format.h"
#include "record_decoder.h"
#include "symbolizer.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace memtrace {

struct StackTrace {
    std::vector<uint64_t> frames; // return addresses, innermost first
    bool truncated = false;       // the unwinder stopped at the depth limit
    uint64_t time_ns = 0;         // when the stack was first recorded
    uint64_t offset = 0;          // of its Stack record
};

struct ProcessFacts {
    bool recorded = false; // false when the dump has no ProcessInfo record
    std::string exe_path;
    std::vector<std::string> argv;
};

// One Snapshot record: the live heap is the replay of every event up to time_ns.
struct SnapshotMark {
    uint64_t time_ns = 0;
    format::SnapshotTrigger trigger = format::SnapshotTrigger::Interval;
    std::string label; // may be empty
    uint32_t thread_index = 0;
};

struct ProcessMemorySample {
    uint64_t time_ns = 0;
    format::ProcessMemory memory{}; // bytes; `threads` is a count
};

struct MallocInfoSample {
    uint64_t time_ns = 0;
    std::string xml; // glibc's malloc_info output, as written
};

struct SizeClassSample {
    uint64_t time_ns = 0;
    std::vector<format::SizeClassCounts> classes; // kSizeClassCount entries, cumulative
};

struct MemoryMapEvent {
    format::MemoryMapOp op = format::MemoryMapOp::Map;
    uint64_t time_ns = 0;
    uint64_t address = 0; // Map and Unmap: the range; Remap: the old range
    uint64_t length = 0;
    uint64_t new_address = 0; // Remap only
    uint64_t new_length = 0;
    uint32_t prot = 0; // Map only
    uint32_t flags = 0;
    uint32_t stack_id = format::kNoStack; // Map and Remap
    uint32_t thread_index = 0;
};

struct DumpNote {
    uint64_t time_ns = 0;
    format::NoteCode code = format::NoteCode::Info;
    std::string text;
};

// The reachability scan the preload ran at exit.
struct LeakScanResult {
    bool present = false; // no scan ran: a crash or kill, a sampled dump, an older memtrace
    format::LeakScanStatus status = format::LeakScanStatus::Skipped;
    uint64_t time_ns = 0;
    uint64_t live_blocks = 0;
    uint64_t definite_blocks = 0;
    uint64_t indirect_blocks = 0;
    uint64_t reachable_blocks = 0;
    uint64_t scan_ns = 0;
    // Definite and indirect blocks; a block live at time_ns and not here was reachable.
    std::unordered_map<uint64_t, format::BlockKind> unreachable;
};

class CompactedDump;

class DumpReader {
public:
    // Opens the dump (raw or compacted) and runs the first pass. Throws DumpError.
    explicit DumpReader(std::string path);
    ~DumpReader();

    const std::string& path() const {
        return path_;
    }
    const format::FileHeader& header() const {
        return header_;
    }
    const ProcessFacts& process() const {
        return process_;
    }
    const std::vector<ModuleInfo>& modules() const {
        return modules_;
    }
    // nullptr when the dump does not define the id (always so for kNoStack).
    const StackTrace* find_stack(uint32_t stack_id) const;
    size_t stack_count() const {
        return stacks_.size();
    }

    // The dump is in the compacted form (compact_format.h) rather than as the preload wrote it.
    bool compacted() const {
        return compacted_ != nullptr;
    }
    // The file ended before the data its header or a chunk claims (for a compacted dump: the
    // raw dump it was made from did).
    bool cut_short() const {
        return cut_short_;
    }
    // Every event the process produced is in the dump: it ended in an orderly way that the
    // preload recorded, and the file is whole.
    bool complete() const;

    uint64_t event_count() const {
        return event_count_;
    }
    // Threads that allocated or freed something.
    size_t thread_count() const {
        return thread_count_;
    }
    // The latest record time in the dump; start_monotonic_ns when it has no records.
    uint64_t last_record_time_ns() const {
        return last_record_time_ns_;
    }
    // When the process ended, or the last sign of life when no end was recorded.
    uint64_t end_time_ns() const;

    // Version 2 records, each in time order (ties in file order).
    const std::vector<SnapshotMark>& snapshots() const {
        return snapshots_;
    }
    const std::vector<ProcessMemorySample>& memory_samples() const {
        return memory_samples_;
    }
    const std::vector<MallocInfoSample>& malloc_info_samples() const {
        return malloc_info_samples_;
    }
    const std::vector<SizeClassSample>& size_class_samples() const {
        return size_class_samples_;
    }
    const std::vector<MemoryMapEvent>& memory_map_events() const {
        return memory_map_events_;
    }
    const std::vector<DumpNote>& notes() const {
        return notes_;
    }
    const LeakScanResult& leak_scan() const {
        return leak_scan_;
    }
    // 0 for full tracing; otherwise the mean bytes between recorded allocations.
    uint64_t sample_bytes() const {
        return header_.sample_bytes;
    }
    bool sampled() const {
        return header_.sample_bytes != 0;
    }

    // Second pass: calls `visit` for every Alloc and Free, merged across chunks by time (ties
    // keep file order). Throws DumpError for an Alloc whose stack id the dump never defines.
    void for_each_event(const std::function<void(const HeapEvent&)>& visit) const;
    // The same events in the same order, handed over in batches (one call per few thousand
    // events instead of one per event). Before an error is thrown, the events before the bad
    // one have been visited.
    void for_each_event_batch(const std::function<void(std::span<const HeapEvent>)>& visit) const;

private:
    void read_header();
    void scan_chunks();
    void read_compacted();
    // The error for an Alloc whose stack the dump does not define.
    DumpError undefined_stack(const HeapEvent& event) const;
    // The index of the first Alloc whose stack the dump does not define; events.size() if none.
    size_t first_undefined_stack(std::span<const HeapEvent> events) const;
    void collect(const Record& record, uint32_t thread_index);
    void collect_leak_scan(const Record& record);
    void match_module_unloads();
    void sort_samples_by_time();

    std::string path_;
    std::unique_ptr<MappedFile> file_;
    std::unique_ptr<CompactedDump> compacted_; // null for a raw dump
    format::FileHeader header_{};
    ProcessFacts process_;
    std::vector<ModuleInfo> modules_;
    struct ModuleUnload {
        uint64_t time_ns;
        uint32_t module_id;
    };
    std::vector<ModuleUnload> module_unloads_; // first pass only
    std::unordered_map<uint32_t, StackTrace> stacks_;
    std::vector<bool> defined_stacks_; // by id, for the ids below 2^22; kNoStack set too
    std::vector<SnapshotMark> snapshots_;
    std::vector<ProcessMemorySample> memory_samples_;
    std::vector<MallocInfoSample> malloc_info_samples_;
    std::vector<SizeClassSample> size_class_samples_;
    std::vector<MemoryMapEvent> memory_map_events_;
    std::vector<DumpNote> notes_;
    LeakScanResult leak_scan_;
    std::vector<ChunkSpan> event_chunks_; // chunks holding at least one Alloc or Free
    bool cut_short_ = false;
    uint64_t event_count_ = 0;
    size_t thread_count_ = 0;
    uint64_t last_record_time_ns_ = 0;
};

} // namespace memtrace
