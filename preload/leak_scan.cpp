#include "leak_scan.h"

#include "chunk_writer.h"
#include "clock.h"
#include "dump_file.h"
#include "internal_alloc.h"
#include "live_map.h"
#include "memtrace/record_encoding.h"
#include "options.h"
#include "process_maps.h"
#include "reachability.h"
#include "recorder.h"
#include "scan_arena.h"
#include "text_append.h"
#include "thread_state.h"

#include <algorithm>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

namespace memtrace::preload {
namespace {

namespace f = format;

// glibc's non-main arenas are heaps of HEAP_MAX_SIZE (64 MiB on 64-bit) aligned to their size;
// such a mapping holding live blocks is allocator memory, like [heap].
constexpr uintptr_t kArenaHeapAlignment = uintptr_t{64} << 20;
constexpr uint32_t kBlocksPerRecord = 1000;
constexpr size_t kMaxOwnRegions = 1024;
// Blocks allocated by other threads during the scan that are read as roots, at most.
constexpr size_t kMaxFreshBlocks = 64 * 1024;

// Text for a Note, built without stdio.
class NoteText {
public:
    NoteText& add(const char* text) {
        return set_end(append_text(text_ + length_, text_ + sizeof(text_), text, strlen(text)));
    }
    NoteText& add(uint64_t value) {
        return set_end(append_unsigned(text_ + length_, text_ + sizeof(text_), value));
    }
    const char* data() const {
        return text_;
    }
    uint32_t length() const {
        return static_cast<uint32_t>(length_);
    }

private:
    NoteText& set_end(const char* end) {
        length_ = static_cast<size_t>(end - text_);
        return *this;
    }

    char text_[256];
    size_t length_ = 0;
};

bool write_summary(const f::LeakScanSummary& summary) {
    ChunkCursor& cursor = t_thread.cursor;
    const uint64_t now = record_time_ns();
    uint8_t* out = chunk_reserve(cursor, f::kMaxLeakScanSummaryRecord, now);
    if (!out) return false;
    chunk_commit(cursor, f::encode_leak_scan_summary(out, chunk_time_delta(cursor, now), summary));
    return true;
}

bool write_note(const NoteText& text) {
    ChunkCursor& cursor = t_thread.cursor;
    const uint64_t now = record_time_ns();
    uint8_t* out =
        chunk_reserve(cursor, static_cast<uint32_t>(f::note_record_size(text.length())), now);
    if (!out) return false;
    chunk_commit(cursor, f::encode_note(out, chunk_time_delta(cursor, now),
                                        f::NoteCode::LeakScanSkipped, text.data(), text.length()));
    return true;
}

bool write_blocks(const uint64_t* addresses, const f::BlockKind* kinds, uint32_t count) {
    ChunkCursor& cursor = t_thread.cursor;
    const uint64_t now = record_time_ns();
    const auto room = static_cast<uint32_t>(f::leak_scan_blocks_record_size(count));
    uint8_t* out = chunk_reserve(cursor, room, now);
    if (!out) return false;
    chunk_commit(cursor, f::encode_leak_scan_blocks(out, chunk_time_delta(cursor, now), addresses,
                                                    kinds, count));
    return true;
}

// A scan that did not run (Skipped) or did not finish (Failed), and why.
void write_not_done(f::LeakScanStatus status, const NoteText& why, uint64_t started) {
    f::LeakScanSummary summary{};
    summary.status = status;
    summary.scan_ns = monotonic_ns() - started;
    if (write_summary(summary)) write_note(why);
}

// Memory the scan must not read as roots: memtrace's own regions and the scan's buffers.
struct Exclusions {
    MemoryRegion* ranges = nullptr;
    size_t count = 0;
};

// Calls scan(begin, end) for the parts of [begin, end) outside every excluded range.
template <typename Scan>
void scan_outside(uintptr_t begin, uintptr_t end, const Exclusions& excluded, Scan&& scan) {
    // The list is sorted by start. Ranges may touch or overlap (merged mappings); `begin` only
    // moves forward, so overlaps are harmless.
    for (size_t i = 0; i < excluded.count && begin < end; ++i) {
        const uintptr_t ex_begin = excluded.ranges[i].begin, ex_end = excluded.ranges[i].end;
        if (ex_end <= begin) continue;
        if (ex_begin >= end) break;
        if (ex_begin > begin) scan(begin, ex_begin);
        if (ex_end > begin) begin = ex_end;
    }
    if (begin < end) scan(begin, end);
}

uintptr_t page_size() {
    return static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
}

struct LiveBlocks {
    const LiveBlock* blocks = nullptr; // sorted by address
    size_t count = 0;
};

// Root ranges of one writable private mapping, before exclusions.
template <typename Scan> void mapping_roots(const Mapping& m, const LiveBlocks& live, Scan&& scan) {
    const LiveBlock* blocks = live.blocks;
    const LiveBlock* first =
        std::lower_bound(blocks, blocks + live.count, m.begin,
                         [](const LiveBlock& b, uintptr_t address) { return b.address < address; });
    const bool holds_blocks = first != blocks + live.count && first->address < m.end;
    if (!holds_blocks) {
        scan(m.begin, m.end); // .data/.bss, stacks, TLS, the app's own mappings
        return;
    }
    if (m.name == MappingName::Heap ||
        (m.name == MappingName::Anonymous && m.begin % kArenaHeapAlignment == 0)) {
        return; // allocator heap: read only through reachable blocks
    }
    // Another mapping holding blocks (a big mmapped chunk, possibly merged by the kernel with a
    // neighbouring anonymous mapping): the pages no block touches are still roots.
    const uintptr_t page = page_size();
    uintptr_t cursor = m.begin;
    for (const LiveBlock* b = first; b != blocks + live.count && b->address < m.end; ++b) {
        const uintptr_t block_begin = b->address & ~(page - 1);
        const uintptr_t block_end = (b->address + (b->size ? b->size : 1) + page - 1) & ~(page - 1);
        if (block_begin > cursor) scan(cursor, block_begin);
        if (block_end > cursor) cursor = block_end;
    }
    if (cursor < m.end) scan(cursor, m.end);
}

// The blocks of the live map, sorted by address, in scan memory. Two passes: the first counts.
bool collect_live_blocks(ScanArena& arena, uint32_t* regions, LiveBlocks* live) {
    size_t count = 0;
    g_live_map.for_each(regions, [&](uint64_t, uint64_t) { ++count; });
    const size_t capacity = count + count / 8 + 1024; // other threads may add blocks meanwhile
    auto* blocks = static_cast<LiveBlock*>(arena.allocate(capacity * sizeof(LiveBlock)));
    if (!blocks) return false;
    size_t filled = 0;
    g_live_map.for_each(regions, [&](uint64_t address, uint64_t size) {
        if (filled < capacity) blocks[filled++] = LiveBlock{address, size};
    });
    live->blocks = blocks;
    live->count = filled;
    return true;
}

// What other threads did while the scan read the roots and the blocks, from the map as it is
// now: the blocks they freed are dropped (not live at the summary's time; their memory may be
// anything now), and the blocks they allocated, which the scan does not know, are read as roots
// (they may hold the only pointer to an older block). Conservative, and one round only: threads
// go on meanwhile.
void recheck_live_blocks(Reachability& reach, const LiveBlocks& live, uint32_t* regions,
                         ScanArena& arena) {
    auto* fresh = static_cast<LiveBlock*>(arena.allocate(kMaxFreshBlocks * sizeof(LiveBlock)));
    if (!fresh) return;
    size_t fresh_count = 0, i = 0;
    g_live_map.for_each(regions, [&](uint64_t address, uint64_t size) {
        while (i < live.count && live.blocks[i].address < address)
            reach.drop(i++);
        if (i < live.count && live.blocks[i].address == address) {
            if (live.blocks[i].size == size) {
                ++i;
                return;
            }
            reach.drop(i++); // freed, and another block took its place
        }
        if (fresh_count < kMaxFreshBlocks) fresh[fresh_count++] = LiveBlock{address, size};
    });
    while (i < live.count)
        reach.drop(i++);
    reach.scan_root_blocks(fresh, fresh_count);
}

// The scan proper. Writes the Summary and Blocks records, or a Failed summary with a note.
void run_scan(uintptr_t stack_pointer, uint64_t started) {
    if (!g_live_map.complete()) {
        write_not_done(f::LeakScanStatus::Skipped,
                       NoteText().add("the live-block map is incomplete (a block outside the "
                                      "48-bit address space or misaligned, or no memory for "
                                      "the map)"),
                       started);
        return;
    }
    ScanArena arena;
    LiveBlocks live;
    auto* regions = static_cast<uint32_t*>(arena.allocate(LiveMap::kMaxLeaves * sizeof(uint32_t)));
    if (!regions || !collect_live_blocks(arena, regions, &live)) {
        write_not_done(f::LeakScanStatus::Failed,
                       NoteText().add("out of memory collecting the live blocks"), started);
        return;
    }
    if (live.count > UINT32_MAX) { // the work list holds 32-bit indices
        write_not_done(f::LeakScanStatus::Failed, NoteText().add("too many live blocks"), started);
        return;
    }
    Reachability reach(arena, live.blocks, live.count);
    auto* own = static_cast<MemoryRegion*>(
        arena.allocate((kMaxOwnRegions + ScanArena::kMaxRegions) * sizeof(MemoryRegion)));
    ProcessMaps maps;
    if (!reach.init() || !own || !read_process_maps(arena, &maps)) {
        write_not_done(f::LeakScanStatus::Failed,
                       NoteText().add("out of memory, or /proc/self/maps unreadable"), started);
        return;
    }
    // Every scan buffer exists by now, so the exclusion list is complete.
    Exclusions excluded{own, own_memory_regions(own, kMaxOwnRegions)};
    for (size_t i = 0; i < arena.region_count(); ++i)
        own[excluded.count++] = MemoryRegion{arena.region(i).begin, arena.region(i).end};
    std::sort(own, own + excluded.count,
              [](const MemoryRegion& a, const MemoryRegion& b) { return a.begin < b.begin; });

    // A probe first: if process_vm_readv is refused (seccomp), nothing can be read.
    {
        uintptr_t probe = 0, target = 1;
        iovec local{&probe, sizeof(probe)}, remote{&target, sizeof(target)};
        if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != sizeof(probe)) {
            write_not_done(f::LeakScanStatus::Failed,
                           NoteText().add("process_vm_readv is not permitted"), started);
            return;
        }
    }
    auto scan_root = [&](uintptr_t begin, uintptr_t end) {
        // The exiting thread's stack: only the frames above the scan's entry (the scan's own
        // frames below it hold heap addresses).
        if (stack_pointer >= begin && stack_pointer < end) begin = stack_pointer;
        scan_outside(begin, end, excluded,
                     [&](uintptr_t b, uintptr_t e) { reach.scan_root_range(b, e); });
    };
    for (size_t i = 0; i < maps.count; ++i) {
        const Mapping& m = maps.mappings[i];
        if (!m.readable || !m.writable || !m.is_private) continue;
        mapping_roots(m, live, scan_root);
    }
    reach.propagate();
    recheck_live_blocks(reach, live, regions, arena);
    reach.classify();

    f::LeakScanSummary summary{};
    summary.status = f::LeakScanStatus::Complete;
    for (size_t i = 0; i < live.count; ++i) {
        switch (reach.state(i)) {
        case BlockState::Definite:
            ++summary.definite_blocks;
            break;
        case BlockState::Indirect:
            ++summary.indirect_blocks;
            break;
        case BlockState::Gone:
            continue;
        default:
            ++summary.reachable_blocks;
            break;
        }
        ++summary.live_blocks;
    }
    summary.scan_ns = monotonic_ns() - started;
    if (!write_summary(summary)) return;
    uint64_t addresses[kBlocksPerRecord];
    f::BlockKind kinds[kBlocksPerRecord];
    uint32_t n = 0;
    for (size_t i = 0; i < live.count; ++i) {
        const BlockState state = reach.state(i);
        if (state != BlockState::Definite && state != BlockState::Indirect) continue;
        addresses[n] = live.blocks[i].address;
        kinds[n] = state == BlockState::Definite ? f::BlockKind::Definite : f::BlockKind::Indirect;
        if (++n == kBlocksPerRecord) {
            if (!write_blocks(addresses, kinds, n)) return;
            n = 0;
        }
    }
    if (n) write_blocks(addresses, kinds, n);
}

// Decides whether to scan; the caller has captured the stack pointer.
void scan_or_skip(uintptr_t stack_pointer) {
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != static_cast<int>(State::Ready)) return;
    const f::FileHeader* header = dump_header();
    // A vfork child shares the parent's memory and dump: it must not write the parent's scan.
    if (!header || header->pid != static_cast<uint64_t>(getpid())) return;
    BusyScope busy;
    const uint64_t started = monotonic_ns();
    if (header->sample_bytes != 0) {
        write_not_done(f::LeakScanStatus::Skipped,
                       NoteText().add("the dump is sampled (MEMTRACE_SAMPLE_BYTES): the live "
                                      "blocks are not all known"),
                       started);
    } else if (header->flags & f::kFlagForkChild) {
        // The blocks inherited from the parent are not in this dump, so their contents would not
        // be followed and the child's blocks they point to would look lost.
        write_not_done(f::LeakScanStatus::Skipped,
                       NoteText().add("a fork child: the blocks it inherited from its parent are "
                                      "not in its dump"),
                       started);
    } else if (!options().leak_scan) {
        write_not_done(f::LeakScanStatus::Skipped,
                       NoteText().add("turned off by MEMTRACE_LEAK_SCAN=0"), started);
    } else {
        run_scan(stack_pointer, started);
    }
}

} // namespace

// Not inlined, and it saves every callee-saved register in its own frame
// (__builtin_unwind_init): the values the app had in them when it called exit() are then in
// memory at or above the stack pointer taken here, which is where the scan of this thread's
// stack begins. Everything the scan itself does happens in frames below it.
[[gnu::noinline]] void leak_scan_at_exit() {
    __builtin_unwind_init();
    uintptr_t stack_pointer;
#if defined(__x86_64__)
    asm volatile("mov %%rsp, %0" : "=r"(stack_pointer));
#elif defined(__aarch64__)
    asm volatile("mov %0, sp" : "=r"(stack_pointer));
#else
    stack_pointer = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
#endif
    scan_or_skip(stack_pointer);
    asm volatile("" ::: "memory"); // no tail call: this frame must stay put during the scan
}

} // namespace memtrace::preload
