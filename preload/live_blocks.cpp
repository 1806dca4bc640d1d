#include "live_blocks.h"

#include "memtrace/dump_format.h"
#include "memtrace/varint.h"

#include <algorithm>
#include <string.h>
#include <sys/mman.h>

namespace memtrace::preload {
namespace {

namespace f = format;

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

} // namespace

// --- AddressTable ---

bool AddressTable::init(uint64_t expected) {
    uint64_t capacity = uint64_t{1} << 16;
    while (capacity * 3 < expected * 4 && capacity < (uint64_t{1} << 32))
        capacity *= 2;
    return rehash(capacity);
}

bool AddressTable::collect(LiveBlocks* out) {
    if (!flush()) return false;
    size_t live = 0;
    for (uint64_t i = 0; i < capacity_; ++i)
        live += slots_[i].state & kLive;
    auto* blocks = static_cast<LiveBlock*>(arena_.allocate((live + 1) * sizeof(LiveBlock)));
    if (!blocks) return false;
    size_t n = 0;
    for (uint64_t i = 0; i < capacity_; ++i) {
        if (slots_[i].state & kLive)
            blocks[n++] = LiveBlock{slots_[i].address, slots_[i].state >> 2};
    }
    arena_.release(slots_); // the table is no longer needed: give its pages back now
    slots_ = nullptr;
    capacity_ = 0;
    std::sort(blocks, blocks + n,
              [](const LiveBlock& a, const LiveBlock& b) { return a.address < b.address; });
    out->blocks = blocks;
    out->count = n;
    return true;
}

AddressTable::Slot* AddressTable::find(Slot* slots, uint64_t capacity, uint64_t address,
                                       uint64_t i) {
    for (;; ++i) {
        Slot* slot = &slots[i & (capacity - 1)];
        if (slot->address == address || slot->address == 0) return slot;
    }
}

bool AddressTable::flush() {
    // At most 3/4 full: linear probing stays short, and the table is a third smaller than at 1/2.
    if ((used_ + batched_) * 4 > capacity_ * 3 && !rehash(capacity_ * 2)) return false;
    uint64_t homes[kBatch];
    for (size_t i = 0; i < batched_; ++i) {
        homes[i] = home(batch_[i].address);
        __builtin_prefetch(&slots_[homes[i] & (capacity_ - 1)], 1);
    }
    for (size_t i = 0; i < batched_; ++i)
        apply(batch_[i], homes[i]);
    batched_ = 0;
    return true;
}

void AddressTable::apply(const Slot& event, uint64_t home) {
    Slot* slot = find(slots_, capacity_, event.address, home);
    if (slot->address == 0) {
        *slot = event; // an Alloc, or a Free whose Alloc is unknown so far: a tombstone
        ++used_;
    } else if (event.time < slot->time) {
        slot->state |= kSticky; // out of order: an older event, which changes nothing
    } else if (event.state & kLive) {
        // A tombstone replaced by a newer Alloc: the Free it stood for may have an older
        // Alloc still to come.
        const uint64_t sticky = (slot->state & kSticky) || !(slot->state & kLive) ? kSticky : 0;
        slot->time = event.time;
        slot->state = event.state | sticky;
    } else if ((slot->state & (kLive | kSticky)) == kLive) {
        remove(slot); // the block's whole life came in order: nothing older can come
    } else {
        slot->time = event.time;
        slot->state = kSticky; // a tombstone
    }
}

// Linear probing without tombstones of its own: the entries after the hole that could have
// been placed in it move back.
void AddressTable::remove(Slot* slot) {
    const uint64_t mask = capacity_ - 1;
    uint64_t hole = static_cast<uint64_t>(slot - slots_);
    for (uint64_t i = (hole + 1) & mask;; i = (i + 1) & mask) {
        if (slots_[i].address == 0) break;
        const uint64_t wanted = home(slots_[i].address) & mask;
        // Movable unless its home lies cyclically in (hole, i].
        if (((i - wanted) & mask) >= ((i - hole) & mask)) {
            slots_[hole] = slots_[i];
            hole = i;
        }
    }
    slots_[hole] = Slot{};
    --used_;
}

bool AddressTable::rehash(uint64_t capacity) {
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

// --- LiveBlockReplay ---

bool LiveBlockReplay::init(uint64_t expected_live) {
    open_capacity_ = 64;
    open_ = static_cast<ChunkProgress*>(arena_.allocate(open_capacity_ * sizeof(ChunkProgress)));
    return open_ && table_.init(expected_live);
}

bool LiveBlockReplay::open_chunk(const ChunkProgress& chunk) {
    // A thread that takes a new chunk never writes to its older ones again.
    for (size_t i = 0; i < open_count_; ++i) {
        if (open_[i].thread_index == chunk.thread_index) {
            open_[i] = chunk;
            return true;
        }
    }
    if (open_count_ == open_capacity_) {
        auto* grown = static_cast<ChunkProgress*>(
            arena_.allocate(open_capacity_ * 2 * sizeof(ChunkProgress)));
        if (!grown) return false;
        memcpy(grown, open_, open_count_ * sizeof(ChunkProgress));
        arena_.release(open_);
        open_ = grown;
        open_capacity_ *= 2;
    }
    open_[open_count_++] = chunk;
    return true;
}

ReplayResult LiveBlockReplay::catch_up(const uint8_t* dump, uint64_t data_end, bool release_pages) {
    if (data_end < read_end_) return ReplayResult::BadChunk;
    auto sink = [&](bool alloc, uint64_t a, uint64_t t, uint64_t size) {
        ++events_;
        return table_.record(a, t, alloc, size);
    };
    // The chunks still open at the last call, from where it stopped. Their threads had not
    // taken a newer chunk when `data_end` was read, so whatever they commit later shows up in
    // the next call.
    for (size_t i = 0; i < open_count_; ++i) {
        ChunkProgress& p = open_[i];
        const auto* header = reinterpret_cast<const f::ChunkHeader*>(dump + p.offset);
        const uint32_t committed = __atomic_load_n(&header->committed, __ATOMIC_ACQUIRE);
        if (committed < p.consumed || committed > header->capacity - sizeof(f::ChunkHeader))
            return ReplayResult::BadChunk;
        const uint8_t* records = dump + p.offset + sizeof(f::ChunkHeader);
        const ReplayResult r =
            decode_records(records + p.consumed, records + committed, &p.time, &p.address, sink);
        if (r != ReplayResult::Ok) return r;
        p.consumed = committed;
    }
    const ReplayResult result = walk_chunks(
        dump, read_end_, data_end, release_pages,
        [&](uint64_t offset, const f::ChunkHeader& header, uint32_t committed) {
            const uint8_t* records = dump + offset + sizeof(f::ChunkHeader);
            uint64_t time = header.base_time_ns, address = 0;
            const ReplayResult r =
                decode_records(records, records + committed, &time, &address, sink);
            if (r != ReplayResult::Ok) return r;
            if (header.thread_index == 0) return ReplayResult::Ok; // padding ends a segment
            return open_chunk(ChunkProgress{offset, committed, time, address, header.thread_index})
                       ? ReplayResult::Ok
                       : ReplayResult::NoMemory;
        });
    if (result != ReplayResult::Ok) return result;
    read_end_ = data_end;
    return table_.flush() ? ReplayResult::Ok : ReplayResult::NoMemory;
}

ReplayResult LiveBlockReplay::finish(LiveBlocks* out) {
    out->events = events_;
    out->progress = open_;
    out->progress_count = open_count_;
    out->data_end = read_end_;
    return table_.collect(out) ? ReplayResult::Ok : ReplayResult::NoMemory;
}

ReplayResult replay_live_blocks(const uint8_t* dump, uint64_t data_end, ScanArena& arena,
                                LiveBlocks* out, uint64_t expected_live, bool release_pages) {
    LiveBlockReplay replay(arena);
    if (!replay.init(expected_live)) return ReplayResult::NoMemory;
    const ReplayResult result = replay.catch_up(dump, data_end, release_pages);
    return result == ReplayResult::Ok ? replay.finish(out) : result;
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
