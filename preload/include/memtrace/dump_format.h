// The memtrace dump format: the one definition shared by the writer (libmemtrace.so) and the
// reader (the analyzer). docs/format.md explains it in prose; keep the two in step.
//
// A dump is a file of fixed-size header page followed by chunks:
//
//   [FileHeader, padded to kHeaderSize] [chunk] [chunk] ... up to FileHeader::data_end
//
// Each thread of the traced process owns one chunk at a time and appends variable-length
// records to it; when the chunk is full the thread takes a new one from the end of the file.
// The file is mapped MAP_SHARED, so a record is in the kernel's page cache as soon as it is
// written and survives SIGKILL. ChunkHeader::committed is advanced after each whole record,
// so a reader never sees half a record.
//
// Records are:  kind:u8  time_delta:varint  payload
// where time_delta is nanoseconds of CLOCK_MONOTONIC since the previous record in the same
// chunk (the first record counts from ChunkHeader::base_time_ns). The reader merges all chunks
// by time to recover the global order of events.
//
// All integers are little-endian (the writer checks it at compile time); varints are LEB128,
// signed values zigzag-encoded (see varint.h).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace memtrace::format {

inline constexpr char kDumpMagic[8] = {'M', 'T', 'D', 'U', 'M', 'P', '\0', '\0'};
// Bump on any change an older reader cannot read. New record kinds may be added without a bump
// only if older readers are told to skip them (they are not: an unknown kind is an error).
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kHeaderSize = 4096;
inline constexpr uint32_t kEndianTag = 0x01020304u;
inline constexpr uint32_t kChunkMagic = 0x4b43544du; // "MTCK" read as little-endian bytes
inline constexpr uint32_t kDefaultChunkSize = 64 * 1024;
inline constexpr uint32_t kMaxStackDepth = 256;
// Bounds that let the reader reject nonsense before allocating for it.
inline constexpr uint32_t kMaxChunkSize = 64 * 1024 * 1024;
inline constexpr uint32_t kMaxStringLength = 64 * 1024;
inline constexpr uint32_t kMaxBuildIdLength = 64;
// MallocInfo text can be long (one XML element per arena); it still has to fit in a chunk.
inline constexpr uint32_t kMaxMallocInfoLength = 4 * 1024 * 1024;

// How the traced process ended, as far as anyone could tell.
enum class EndReason : uint32_t {
    Unknown = 0,   // still running, or died without anyone noticing (SIGKILL without launcher)
    Exit = 1,      // exit() or return from main; exit_code is valid
    QuickExit = 2, // _exit() / _Exit(); exit_code is valid
    Signal = 3,    // a fatal signal caught by the preload; signal is valid
    Killed = 4,    // died by a signal the preload could not see (SIGKILL); written by the launcher
    Exec = 5,      // the process image was replaced by execve(); the new image has its own dump
};

// Who wrote the end fields.
enum class EndWriter : uint32_t { None = 0, Preload = 1, Launcher = 2 };

// FileHeader::flags bits.
inline constexpr uint32_t kFlagOutOfSpace = 1u << 0;     // the disk filled; tracing stopped there
inline constexpr uint32_t kFlagTracingFailed = 1u << 1;  // an internal limit was hit; see docs
inline constexpr uint32_t kFlagStackTableFull = 1u << 2; // later stacks recorded as stack id 0
inline constexpr uint32_t kFlagForkChild = 1u << 3;      // this process is a fork() child
inline constexpr uint32_t kFlagSampled = 1u << 4;        // sample_bytes > 0: Poisson sampling

struct FileHeader {
    char magic[8];
    uint32_t format_version;
    uint32_t header_size; // kHeaderSize; chunks start here
    uint32_t endian_tag;  // kEndianTag as written by the writer
    uint32_t pointer_size;
    uint32_t chunk_size; // default chunk capacity in bytes (a chunk may be larger)
    uint32_t max_depth;  // MEMTRACE_DEPTH in force
    uint64_t pid;
    uint64_t ppid;
    uint64_t start_realtime_ns;  // CLOCK_REALTIME at start (wall clock, for humans)
    uint64_t start_monotonic_ns; // CLOCK_MONOTONIC at start; record times are on this clock
    uint64_t data_end;           // offset just past the last reserved chunk (updated atomically)
    uint32_t flags;              // kFlag* bits (updated atomically)
    uint32_t end_reason;         // EndReason
    int32_t exit_code;
    int32_t signal;
    uint64_t end_monotonic_ns; // when the end fields were written; 0 if never
    uint32_t end_writer;       // EndWriter
    uint32_t clean;            // 1 once the preload saw the process end in an orderly way
    // Version 2.
    // 0: every allocation is recorded. N > 0: an allocation is recorded (with its stack) when a
    // per-thread Poisson process with mean one sample per N bytes falls inside it, so a block of
    // s bytes is recorded with probability p = 1 - exp(-s/N) and stands for 1/p blocks. Frees
    // are recorded for recorded blocks only. SizeClassTotals still count every allocation.
    uint64_t sample_bytes;
    uint32_t snapshot_signal;      // signal number that takes a snapshot; 0 when none is installed
    uint32_t snapshot_interval_ms; // MEMTRACE_INTERVAL in milliseconds; 0 = no periodic snapshot
};
static_assert(sizeof(FileHeader) == 120, "FileHeader layout is part of the format");
static_assert(offsetof(FileHeader, sample_bytes) == 104);
static_assert(offsetof(FileHeader, pid) == 32);
static_assert(offsetof(FileHeader, data_end) == 64);
static_assert(offsetof(FileHeader, end_monotonic_ns) == 88);

struct ChunkHeader {
    uint32_t magic;        // kChunkMagic
    uint32_t capacity;     // bytes, including this header
    uint32_t committed;    // bytes of whole records after this header (updated atomically)
    uint32_t thread_index; // 1, 2, ... in the order threads first recorded something
    uint32_t os_tid;       // gettid() of the writing thread
    uint32_t reserved;
    uint64_t base_time_ns; // CLOCK_MONOTONIC; the first record's time_delta counts from here
};
static_assert(sizeof(ChunkHeader) == 32, "ChunkHeader layout is part of the format");

// Record kinds: the low 4 bits of the kind byte. The high 4 bits are a sub-kind where noted.
enum class RecordKind : uint8_t {
    // payload: address:zigzag delta from the previous address in this chunk, size:varint,
    //          stack_id:varint. Sub-kind: AllocFunction.
    Alloc = 1,
    // payload: address:zigzag delta from the previous address in this chunk.
    Free = 2,
    // payload: stack_id:varint, depth_and_flag:varint (depth << 1 | truncated),
    //          frames: first absolute, then zigzag delta from the previous frame; innermost
    //          first. Frames are return addresses (the call instruction ends just before them).
    Stack = 3,
    // payload: module_id:varint, load_bias:varint, start:varint, end:varint (absolute
    //          addresses of the lowest and highest PT_LOAD bytes), build_id:bytes, path:bytes
    //          where bytes = length:varint followed by that many bytes.
    ModuleLoad = 4,
    // payload: module_id:varint.
    ModuleUnload = 5,
    // payload: exe_path:bytes, cmdline:bytes (the arguments, each followed by a NUL).
    ProcessInfo = 6,
    // A snapshot: the live heap at this record's time (the reader replays events up to it).
    // payload: trigger:varint (SnapshotTrigger), label:bytes (may be empty).
    Snapshot = 7,
    // Process memory from /proc/self/status, in bytes, taken with every snapshot.
    // payload: vm_rss, vm_size, vm_hwm, rss_anon, rss_file, threads (all varint).
    ProcessMemory = 8,
    // glibc's malloc_info(0, ...) XML, taken with every snapshot (off the allocation path).
    // payload: xml:bytes (at most kMaxMallocInfoLength).
    MallocInfo = 9,
    // Size-class counters of every allocation since the start (sampled or not), summed over all
    // threads, taken with every snapshot. payload: class_count:varint, then per class in
    // size_class_index() order: count, requested_bytes, usable_bytes, free_count,
    // freed_usable_bytes (varints). A free is classed by its usable size (the requested size is
    // not known at free), so the live figures per class come from replaying Alloc/Free. Sampled
    // dumps do not count frees (free_count and freed_usable_bytes stay 0): it keeps the free of
    // an unsampled block down to one load.
    SizeClassTotals = 10,
    // An anonymous mapping call seen through the mmap/munmap/mremap hooks (the allocator's own
    // internal calls bypass them). Sub-kind MemoryMapOp. Payloads:
    //   Map:   address:varint, length:varint, prot:varint, flags:varint, stack_id:varint
    //   Unmap: address:varint, length:varint
    //   Remap: old_address:varint, old_length:varint, new_address:varint, new_length:varint,
    //          stack_id:varint
    MemoryMap = 11,
    // Something the reader should tell the user. payload: code:varint (NoteCode), text:bytes.
    Note = 12,
    // The reachability scan run in the process at exit. Sub-kind LeakScanPart.
    //   Summary: status:varint (LeakScanStatus), live_blocks, definite_blocks, indirect_blocks,
    //            reachable_blocks (varints), scan_ns:varint (how long the scan took).
    //   Blocks:  count:varint, then per block: address:zigzag delta from the previous block of
    //            this record (the first from 0), kind:varint (BlockKind). Only definite and
    //            indirect blocks are listed; a block live at the scan and not listed was reachable.
    // Summary comes first; any number of Blocks records (at most 1000 blocks each) follow it,
    // written by the same thread: in the same chunk or a later one of that thread.
    LeakScan = 13,
};

enum class SnapshotTrigger : uint8_t { Interval = 1, Signal = 2, Api = 3, Exit = 4 };

enum class MemoryMapOp : uint8_t { Map = 0, Unmap = 1, Remap = 2 };

enum class NoteCode : uint32_t {
    Info = 0,
    SnapshotSignalTaken = 1, // the app handles the snapshot signal; memtrace left it alone
    LeakScanSkipped = 2,     // why no reachability scan ran
};

enum class LeakScanPart : uint8_t { Summary = 0, Blocks = 1 };
enum class LeakScanStatus : uint32_t { Complete = 1, Skipped = 2, Failed = 3 };
enum class BlockKind : uint32_t { Definite = 1, Indirect = 2, Reachable = 3 };

// Payloads of ProcessMemory, SizeClassTotals (one per class) and LeakScan Summary, in order.
struct ProcessMemory {
    uint64_t vm_rss, vm_size, vm_hwm, rss_anon, rss_file, threads;
};

struct SizeClassCounts {
    uint64_t count, requested_bytes, usable_bytes, free_count, freed_usable_bytes;
};

struct LeakScanSummary {
    LeakScanStatus status;
    uint64_t live_blocks, definite_blocks, indirect_blocks, reachable_blocks, scan_ns;
};

// Size classes of the histogram: 8-byte classes (0,8], (8,16], ..., (504,512] (index 0..63; a
// request of 0 bytes counts in the first), then power-of-two classes (512,1024], (1024,2048],
// ... (index 64..). kSizeClassCount covers every 64-bit size.
inline constexpr uint32_t kSmallClassCount = 64;
inline constexpr uint32_t kSizeClassCount = kSmallClassCount + 55;

inline constexpr uint32_t size_class_index(uint64_t size) {
    if (size <= 512) return size == 0 ? 0 : static_cast<uint32_t>((size - 1) >> 3);
    // (2^k, 2^(k+1)] for k >= 9 -> 64 + (k - 9)
    const uint32_t k = 63 - static_cast<uint32_t>(__builtin_clzll(size - 1)); // floor(log2(size-1))
    return kSmallClassCount + (k - 9);
}
// Largest size in the class (inclusive); the smallest is size_class_max(index - 1) + 1.
inline constexpr uint64_t size_class_max(uint32_t index) {
    if (index < kSmallClassCount) return (static_cast<uint64_t>(index) + 1) * 8;
    const uint32_t k = index - kSmallClassCount + 10;
    return k >= 64 ? UINT64_MAX : (uint64_t{1} << k);
}
static_assert(size_class_index(1) == 0 && size_class_index(8) == 0 && size_class_index(9) == 1);
static_assert(size_class_index(512) == 63 && size_class_index(513) == 64);
static_assert(size_class_index(1024) == 64 && size_class_index(1025) == 65);
static_assert(size_class_max(63) == 512 && size_class_max(64) == 1024 &&
              size_class_max(65) == 2048);
static_assert(size_class_index(UINT64_MAX) == kSizeClassCount - 1);

// Which function produced an Alloc (the high 4 bits of its kind byte).
enum class AllocFunction : uint8_t {
    Malloc = 0,
    Calloc = 1,
    Realloc = 2, // the new block of a realloc; the old one has its own Free record
    Aligned = 3, // posix_memalign, aligned_alloc, memalign, valloc, pvalloc
};

// Stack id 0 means "no stack" (the table was full or the unwinder failed).
inline constexpr uint32_t kNoStack = 0;

inline constexpr uint8_t make_kind_byte(RecordKind kind, uint8_t sub = 0) {
    return static_cast<uint8_t>(static_cast<uint8_t>(kind) | (sub << 4));
}
inline constexpr RecordKind kind_of(uint8_t byte) {
    return static_cast<RecordKind>(byte & 0x0f);
}
inline constexpr uint8_t sub_kind_of(uint8_t byte) {
    return static_cast<uint8_t>(byte >> 4);
}

// Whether the end state means every event the process produced is in the dump.
inline constexpr bool is_complete(EndReason reason) {
    return reason == EndReason::Exit || reason == EndReason::QuickExit || reason == EndReason::Exec;
}

} // namespace memtrace::format
