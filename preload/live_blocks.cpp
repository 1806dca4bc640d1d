#include "live_blocks.h"

#include "memtrace/dump_format.h"
#include "memtrace/varint.h"

#include <algorithm>
#include <string.h>
#include <sys/mman.h>

namespace memtrace::preload {
namespace {

namespace f = format;

// One address's latest event. size_live = size << 1 | (1 if the event was an Alloc).
struct Slot {
    uint64_t address; // 0 = empty
    uint64_t time;
    uint64_t size_live;
};

class AddressTable {
public:
    explicit AddressTable(ScanArena& arena) : arena_(arena) {
    }

    bool init(uint64_t expected) {
        uint64_t capacity = uint64_t{1} << 16;
        while (capacity < expected * 2 && capacity < (uint64_t{1} << 32))
            capacity *= 2;
        return rehash(capacity);
    }

    // Records an event unless the address already has a later one. Events are applied in
    // batches: the table is far larger than the caches, so each event is a cache miss, and
    // prefetching a batch's slots first lets those misses overlap.
    bool record(uint64_t address, uint64_t time, uint64_t size_live) {
        if (address == 0) return true; // never a block; 0 marks empty slots
        batch_[batched_++] = Slot{address, time, size_live};
        return batched_ < kBatch || flush();
    }

    // The live blocks, sorted by address, in a new arena region.
    bool collect(LiveBlocks* out) {
        if (!flush()) return false;
        size_t live = 0;
        for (uint64_t i = 0; i < capacity_; ++i)
            live += slots_[i].size_live & 1;
        auto* blocks = static_cast<LiveBlock*>(arena_.allocate((live + 1) * sizeof(LiveBlock)));
        if (!blocks) return false;
        size_t n = 0;
        for (uint64_t i = 0; i < capacity_; ++i) {
            if (slots_[i].size_live & 1)
                blocks[n++] = LiveBlock{slots_[i].address, slots_[i].size_live >> 1};
        }
        arena_.release(slots_); // the table is no longer needed: give its pages back now
        slots_ = nullptr;
        std::sort(blocks, blocks + n,
                  [](const LiveBlock& a, const LiveBlock& b) { return a.address < b.address; });
        out->blocks = blocks;
        out->count = n;
        return true;
    }

private:
    static constexpr size_t kBatch = 32;

    static uint64_t home(uint64_t address) {
        return ((address >> 4) * 0x9e3779b97f4a7c15ull) >> 20;
    }

    static Slot* find(Slot* slots, uint64_t capacity, uint64_t address, uint64_t i) {
        for (;; ++i) {
            Slot* slot = &slots[i & (capacity - 1)];
            if (slot->address == address || slot->address == 0) return slot;
        }
    }

    bool flush() {
        if ((used_ + batched_) * 2 > capacity_ && !rehash(capacity_ * 2)) return false;
        uint64_t homes[kBatch];
        for (size_t i = 0; i < batched_; ++i) {
            homes[i] = home(batch_[i].address);
            __builtin_prefetch(&slots_[homes[i] & (capacity_ - 1)], 1);
        }
        for (size_t i = 0; i < batched_; ++i) {
            const Slot& event = batch_[i];
            Slot* slot = find(slots_, capacity_, event.address, homes[i]);
            if (slot->address == 0) {
                *slot = event;
                ++used_;
            } else if (event.time >= slot->time) {
                slot->time = event.time;
                slot->size_live = event.size_live;
            }
        }
        batched_ = 0;
        return true;
    }

    bool rehash(uint64_t capacity) {
        auto* slots = static_cast<Slot*>(arena_.allocate(capacity * sizeof(Slot)));
        if (!slots) return false;
        for (uint64_t i = 0; i < capacity_; ++i) {
            if (slots_[i].address)
                *find(slots, capacity, slots_[i].address, home(slots_[i].address)) = slots_[i];
        }
        arena_.release(slots_);
        slots_ = slots;
        capacity_ = capacity;
        return true;
    }

    ScanArena& arena_;
    Slot* slots_ = nullptr;
    uint64_t capacity_ = 0;
    uint64_t used_ = 0;
    Slot batch_[kBatch];
    size_t batched_ = 0;
};

// Bounded reading of one chunk's records.
class Cursor {
public:
    Cursor(const uint8_t* begin, const uint8_t* end) : p_(begin), end_(end) {
    }

    bool at_end() const {
        return p_ == end_;
    }
    bool byte(uint8_t* value) {
        if (p_ == end_) return false;
        *value = *p_++;
        return true;
    }
    bool varint(uint64_t* value) {
        return f::read_varint(&p_, end_, value);
    }
    bool skip_varints(uint64_t n) {
        uint64_t ignored;
        for (uint64_t i = 0; i < n; ++i)
            if (!varint(&ignored)) return false;
        return true;
    }
    // length:varint then that many bytes.
    bool skip_bytes() {
        uint64_t length;
        if (!varint(&length) || length > static_cast<uint64_t>(end_ - p_)) return false;
        p_ += length;
        return true;
    }

private:
    const uint8_t* p_;
    const uint8_t* end_;
};

// Skips the payload of a record that is neither Alloc nor Free.
bool skip_payload(Cursor& c, f::RecordKind kind, uint8_t sub) {
    uint64_t n = 0;
    switch (kind) {
    case f::RecordKind::Stack: {
        uint64_t depth_and_flag;
        return c.skip_varints(1) && c.varint(&depth_and_flag) &&
               (depth_and_flag >> 1) <= f::kMaxStackDepth && c.skip_varints(depth_and_flag >> 1);
    }
    case f::RecordKind::ModuleLoad:
        return c.skip_varints(4) && c.skip_bytes() && c.skip_bytes();
    case f::RecordKind::ModuleUnload:
        return c.skip_varints(1);
    case f::RecordKind::ProcessInfo:
        return c.skip_bytes() && c.skip_bytes();
    case f::RecordKind::Snapshot:
        return c.skip_varints(1) && c.skip_bytes();
    case f::RecordKind::ProcessMemory:
        return c.skip_varints(6);
    case f::RecordKind::MallocInfo:
        return c.skip_bytes();
    case f::RecordKind::SizeClassTotals:
        return c.varint(&n) && n <= 1024 && c.skip_varints(n * 5);
    case f::RecordKind::MemoryMap:
        switch (static_cast<f::MemoryMapOp>(sub)) {
        case f::MemoryMapOp::Map:
            return c.skip_varints(5);
        case f::MemoryMapOp::Unmap:
            return c.skip_varints(2);
        case f::MemoryMapOp::Remap:
            return c.skip_varints(5);
        }
        return false;
    case f::RecordKind::Note:
        return c.skip_varints(1) && c.skip_bytes();
    case f::RecordKind::LeakScan:
        switch (static_cast<f::LeakScanPart>(sub)) {
        case f::LeakScanPart::Summary:
            return c.skip_varints(6);
        case f::LeakScanPart::Blocks:
            return c.varint(&n) && n <= f::kMaxChunkSize && c.skip_varints(n * 2);
        }
        return false;
    default:
        return false;
    }
}

// Decodes the records in [begin, end) of a chunk, continuing from `time` and `address` (the
// chunk's base time and 0 at its start); calls sink(is_alloc, address, time, size) for each
// Alloc and Free. *end_of_decoded is where decoding stopped.
template <typename Sink>
ReplayResult decode_records(const uint8_t* begin, const uint8_t* end, uint64_t* time,
                            uint64_t* address, Sink&& sink) {
    Cursor c(begin, end);
    while (!c.at_end()) {
        uint8_t kind_byte;
        uint64_t delta;
        if (!c.byte(&kind_byte) || !c.varint(&delta)) return ReplayResult::BadRecord;
        *time += delta;
        const f::RecordKind kind = f::kind_of(kind_byte);
        if (kind == f::RecordKind::Alloc || kind == f::RecordKind::Free) {
            uint64_t address_delta, size = 0, stack_id;
            if (!c.varint(&address_delta)) return ReplayResult::BadRecord;
            if (kind == f::RecordKind::Alloc && (!c.varint(&size) || !c.varint(&stack_id)))
                return ReplayResult::BadRecord;
            *address += static_cast<uint64_t>(f::zigzag_decode(address_delta));
            if (!sink(kind == f::RecordKind::Alloc, *address, *time, size))
                return ReplayResult::NoMemory;
        } else if (!skip_payload(c, kind, f::sub_kind_of(kind_byte))) {
            return ReplayResult::BadRecord;
        }
    }
    return ReplayResult::Ok;
}

// Calls visit(offset, header, committed) for each chunk in [start, data_end); stops at the first
// result that is not Ok.
// With release_pages, the pages read are dropped from the process every 4 MiB (the dump is a
// shared file mapping: the page cache keeps them), so a big dump does not add its size to the
// process's RSS.
template <typename Visit>
ReplayResult walk_chunks(const uint8_t* dump, uint64_t start, uint64_t data_end, bool release_pages,
                         Visit&& visit) {
    constexpr uint64_t kReleaseEvery = uint64_t{4} << 20;
    uint64_t offset = start;
    uint64_t released = 0;
    while (offset + sizeof(f::ChunkHeader) <= data_end) {
        if (release_pages && offset - released >= kReleaseEvery) {
            const uint64_t end = offset & ~uint64_t{4095};
            madvise(const_cast<uint8_t*>(dump) + released, end - released, MADV_DONTNEED);
            released = end;
        }
        const auto* live_header = reinterpret_cast<const f::ChunkHeader*>(dump + offset);
        f::ChunkHeader header;
        memcpy(&header, live_header, sizeof(header));
        const uint32_t committed = __atomic_load_n(&live_header->committed, __ATOMIC_ACQUIRE);
        if (header.magic != f::kChunkMagic || header.capacity < sizeof(f::ChunkHeader) ||
            header.capacity > data_end - offset ||
            committed > header.capacity - sizeof(f::ChunkHeader)) {
            return ReplayResult::BadChunk;
        }
        const ReplayResult result = visit(offset, header, committed);
        if (result != ReplayResult::Ok) return result;
        offset += header.capacity;
    }
    return ReplayResult::Ok;
}

// Keeps, in file order, only the last chunk of each thread: a thread that took a new chunk never
// writes to its old ones again. (Touching every chunk's header later would also map the whole
// dump: the kernel maps the neighbouring pages of a read fault.)
size_t keep_last_chunk_per_thread(ChunkProgress* progress, size_t count, ScanArena& arena) {
    uint32_t max_thread = 0;
    for (size_t i = 0; i < count; ++i)
        if (progress[i].thread_index > max_thread) max_thread = progress[i].thread_index;
    auto* seen = static_cast<uint8_t*>(arena.allocate(size_t{max_thread} + 1));
    if (!seen) return count;
    auto* keep = static_cast<uint8_t*>(arena.allocate(count + 1));
    if (!keep) {
        arena.release(seen);
        return count;
    }
    for (size_t i = count; i-- > 0;) {
        const uint32_t thread = progress[i].thread_index;
        keep[i] = thread != 0 && !seen[thread]; // thread 0: padding at the end of a segment
        seen[thread] = 1;
    }
    size_t kept = 0;
    for (size_t i = 0; i < count; ++i)
        if (keep[i]) progress[kept++] = progress[i];
    arena.release(keep);
    arena.release(seen);
    return kept;
}

} // namespace

ReplayResult replay_live_blocks(const uint8_t* dump, uint64_t data_end, ScanArena& arena,
                                LiveBlocks* out, uint64_t expected_live, bool release_pages) {
    AddressTable table(arena);
    if (!table.init(expected_live)) return ReplayResult::NoMemory;
    // Where each chunk was read up to, for replay_tail. A chunk is at least a header long.
    const size_t max_chunks = data_end / sizeof(f::ChunkHeader) / 64 + 64;
    auto* progress =
        static_cast<ChunkProgress*>(arena.allocate(max_chunks * sizeof(ChunkProgress)));
    size_t chunk_count = 0;
    bool progress_complete = progress != nullptr;
    uint64_t events = 0;
    const ReplayResult result = walk_chunks(
        dump, f::kHeaderSize, data_end, release_pages,
        [&](uint64_t offset, const f::ChunkHeader& header, uint32_t committed) {
            const uint8_t* records = dump + offset + sizeof(f::ChunkHeader);
            uint64_t time = header.base_time_ns, address = 0;
            const ReplayResult r =
                decode_records(records, records + committed, &time, &address,
                               [&](bool alloc, uint64_t a, uint64_t t, uint64_t size) {
                                   ++events;
                                   return table.record(a, t, alloc ? (size << 1) | 1 : 0);
                               });
            if (r != ReplayResult::Ok) return r;
            if (progress_complete && chunk_count < max_chunks)
                progress[chunk_count++] =
                    ChunkProgress{offset, committed, time, address, header.thread_index};
            else
                progress_complete = false;
            return ReplayResult::Ok;
        });
    if (result != ReplayResult::Ok) return result;
    if (progress_complete) chunk_count = keep_last_chunk_per_thread(progress, chunk_count, arena);
    out->events = events;
    out->progress = progress_complete ? progress : nullptr;
    out->progress_count = progress_complete ? chunk_count : 0;
    out->data_end = data_end;
    return table.collect(out) ? ReplayResult::Ok : ReplayResult::NoMemory;
}

ReplayResult replay_tail(const uint8_t* dump, uint64_t data_end, const LiveBlocks& live,
                         TailEvent on_event, void* context) {
    if (!live.progress) return ReplayResult::BadChunk;
    auto sink = [&](bool alloc, uint64_t address, uint64_t, uint64_t size) {
        on_event(context, alloc, address, size);
        return true;
    };
    // The chunks read before: from where the replay stopped.
    for (size_t i = 0; i < live.progress_count; ++i) {
        const ChunkProgress& p = live.progress[i];
        const auto* header = reinterpret_cast<const f::ChunkHeader*>(dump + p.offset);
        const uint32_t committed = __atomic_load_n(&header->committed, __ATOMIC_ACQUIRE);
        if (committed < p.consumed || committed > header->capacity - sizeof(f::ChunkHeader))
            return ReplayResult::BadChunk;
        const uint8_t* records = dump + p.offset + sizeof(f::ChunkHeader);
        uint64_t time = p.time, address = p.address;
        const ReplayResult r =
            decode_records(records + p.consumed, records + committed, &time, &address, sink);
        if (r != ReplayResult::Ok) return r;
    }
    // Chunks taken since.
    return walk_chunks(dump, live.data_end, data_end, false,
                       [&](uint64_t offset, const f::ChunkHeader& header, uint32_t committed) {
                           const uint8_t* records = dump + offset + sizeof(f::ChunkHeader);
                           uint64_t time = header.base_time_ns, address = 0;
                           return decode_records(records, records + committed, &time, &address,
                                                 sink);
                       });
}

} // namespace memtrace::preload
