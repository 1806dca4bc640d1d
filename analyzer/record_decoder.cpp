#include "record_decoder.h"

#include "dump_error.h"
#include "memtrace/varint.h"

#include <algorithm>
#include <initializer_list>
#include <spdlog/fmt/fmt.h>

namespace memtrace {
namespace {

namespace f = memtrace::format;

// Thrown by ByteReader when a record needs bytes the span does not have; the decoder turns it
// into "cut short" or into an error depending on why the span ends.
struct OutOfBytes {};

// Thrown for content that no writer produces; the decoder adds the file and offset.
struct Malformed {
    std::string what;
};

class ByteReader {
public:
    ByteReader(const uint8_t* begin, const uint8_t* end) : cursor_(begin), end_(end) {
    }

    const uint8_t* cursor() const {
        return cursor_;
    }
    size_t remaining() const {
        return static_cast<size_t>(end_ - cursor_);
    }

    uint8_t u8() {
        if (cursor_ == end_) throw OutOfBytes{};
        return *cursor_++;
    }

    uint64_t varint(const char* field) {
        uint64_t value = 0;
        if (f::read_varint(&cursor_, end_, &value)) return value;
        if (static_cast<size_t>(end_ - cursor_) < f::kMaxVarintBytes) throw OutOfBytes{};
        throw Malformed{fmt::format("malformed varint for {} (longer than {} bytes)", field,
                                    f::kMaxVarintBytes)};
    }

    uint32_t u32_varint(const char* field) {
        const uint64_t value = varint(field);
        if (value > UINT32_MAX) {
            throw Malformed{fmt::format("{} {} does not fit in 32 bits", field, value)};
        }
        return static_cast<uint32_t>(value);
    }

    // length:varint followed by that many bytes, the length bounded before anything is read.
    std::string_view bytes(const char* field, uint32_t max_length) {
        const uint64_t length = varint(field);
        if (length > max_length) {
            throw Malformed{
                fmt::format("{} length {} is over the limit of {}", field, length, max_length)};
        }
        if (length > static_cast<uint64_t>(end_ - cursor_)) throw OutOfBytes{};
        const std::string_view view(reinterpret_cast<const char*>(cursor_), length);
        cursor_ += length;
        return view;
    }

private:
    const uint8_t* cursor_;
    const uint8_t* end_;
};

const char* kind_name(f::RecordKind kind) {
    switch (kind) {
    case f::RecordKind::Alloc:
        return "alloc";
    case f::RecordKind::Free:
        return "free";
    case f::RecordKind::Stack:
        return "stack";
    case f::RecordKind::ModuleLoad:
        return "module-load";
    case f::RecordKind::ModuleUnload:
        return "module-unload";
    case f::RecordKind::ProcessInfo:
        return "process-info";
    case f::RecordKind::Snapshot:
        return "snapshot";
    case f::RecordKind::ProcessMemory:
        return "process-memory";
    case f::RecordKind::MallocInfo:
        return "malloc-info";
    case f::RecordKind::SizeClassTotals:
        return "size-class-totals";
    case f::RecordKind::MemoryMap:
        return "memory-map";
    case f::RecordKind::Note:
        return "note";
    case f::RecordKind::LeakScan:
        return "leak-scan";
    }
    return "unknown";
}

void decode_payload(ByteReader& in, Record& record, uint64_t& previous_address) {
    switch (record.kind) {
    case f::RecordKind::Alloc:
        if (record.sub_kind > static_cast<uint8_t>(f::AllocFunction::Aligned)) {
            throw Malformed{
                fmt::format("unknown allocation function {} in an alloc record", record.sub_kind)};
        }
        previous_address += static_cast<uint64_t>(f::zigzag_decode(in.varint("address")));
        record.address = previous_address;
        record.size = in.varint("size");
        record.stack_id = in.u32_varint("stack id");
        return;
    case f::RecordKind::Free:
        previous_address += static_cast<uint64_t>(f::zigzag_decode(in.varint("address")));
        record.address = previous_address;
        return;
    case f::RecordKind::Stack: {
        record.stack_id = in.u32_varint("stack id");
        if (record.stack_id == f::kNoStack) throw Malformed{"stack record defines stack id 0"};
        const uint64_t depth_and_flag = in.varint("stack depth");
        const uint64_t depth = depth_and_flag >> 1;
        if (depth > f::kMaxStackDepth) {
            throw Malformed{
                fmt::format("stack depth {} is over the limit of {}", depth, f::kMaxStackDepth)};
        }
        record.truncated = (depth_and_flag & 1) != 0;
        record.frames.clear();
        uint64_t frame = 0;
        for (uint64_t i = 0; i < depth; ++i) {
            const uint64_t value = in.varint("stack frame");
            frame = i == 0 ? value : frame + static_cast<uint64_t>(f::zigzag_decode(value));
            record.frames.push_back(frame);
        }
        return;
    }
    case f::RecordKind::ModuleLoad:
        record.module_id = in.u32_varint("module id");
        record.load_bias = in.varint("load bias");
        record.start = in.varint("module start");
        record.end = in.varint("module end");
        record.build_id = in.bytes("build-id", f::kMaxBuildIdLength);
        record.module_path = in.bytes("module path", f::kMaxStringLength);
        return;
    case f::RecordKind::ModuleUnload:
        record.module_id = in.u32_varint("module id");
        return;
    case f::RecordKind::ProcessInfo:
        record.exe_path = in.bytes("exe path", f::kMaxStringLength);
        record.cmdline = in.bytes("command line", f::kMaxStringLength);
        return;
    case f::RecordKind::Snapshot:
        record.trigger = in.u32_varint("snapshot trigger");
        if (record.trigger < static_cast<uint32_t>(f::SnapshotTrigger::Interval) ||
            record.trigger > static_cast<uint32_t>(f::SnapshotTrigger::Exit)) {
            throw Malformed{fmt::format("unknown snapshot trigger {}", record.trigger)};
        }
        record.text = in.bytes("snapshot label", f::kMaxStringLength);
        return;
    case f::RecordKind::ProcessMemory: {
        f::ProcessMemory& m = record.memory;
        for (uint64_t* field :
             {&m.vm_rss, &m.vm_size, &m.vm_hwm, &m.rss_anon, &m.rss_file, &m.threads}) {
            *field = in.varint("process memory figure");
        }
        return;
    }
    case f::RecordKind::MallocInfo:
        record.text = in.bytes("malloc_info text", f::kMaxMallocInfoLength);
        return;
    case f::RecordKind::SizeClassTotals: {
        const uint32_t count = in.u32_varint("size class count");
        if (count > f::kSizeClassCount) {
            throw Malformed{fmt::format("{} size classes, more than the {} there are", count,
                                        f::kSizeClassCount)};
        }
        record.classes.assign(f::kSizeClassCount, f::SizeClassCounts{});
        for (uint32_t i = 0; i < count; ++i) {
            f::SizeClassCounts& c = record.classes[i];
            for (uint64_t* field : {&c.count, &c.requested_bytes, &c.usable_bytes, &c.free_count,
                                    &c.freed_usable_bytes}) {
                *field = in.varint("size class counter");
            }
        }
        return;
    }
    case f::RecordKind::MemoryMap:
        switch (static_cast<f::MemoryMapOp>(record.sub_kind)) {
        case f::MemoryMapOp::Map:
            record.address = in.varint("mapping address");
            record.size = in.varint("mapping length");
            record.prot = in.u32_varint("mapping protection");
            record.flags = in.u32_varint("mapping flags");
            record.stack_id = in.u32_varint("stack id");
            return;
        case f::MemoryMapOp::Unmap:
            record.address = in.varint("unmapped address");
            record.size = in.varint("unmapped length");
            record.stack_id = f::kNoStack;
            return;
        case f::MemoryMapOp::Remap:
            record.address = in.varint("remapped address");
            record.size = in.varint("remapped length");
            record.new_address = in.varint("new mapping address");
            record.new_size = in.varint("new mapping length");
            record.stack_id = in.u32_varint("stack id");
            return;
        }
        throw Malformed{fmt::format("unknown memory map operation {}", record.sub_kind)};
    case f::RecordKind::Note:
        record.code = in.u32_varint("note code");
        record.text = in.bytes("note text", f::kMaxStringLength);
        return;
    case f::RecordKind::LeakScan:
        if (record.sub_kind == static_cast<uint8_t>(f::LeakScanPart::Summary)) {
            f::LeakScanSummary& s = record.scan;
            const uint32_t status = in.u32_varint("leak scan status");
            if (status < static_cast<uint32_t>(f::LeakScanStatus::Complete) ||
                status > static_cast<uint32_t>(f::LeakScanStatus::Failed)) {
                throw Malformed{fmt::format("unknown leak scan status {}", status)};
            }
            s.status = static_cast<f::LeakScanStatus>(status);
            for (uint64_t* field : {&s.live_blocks, &s.definite_blocks, &s.indirect_blocks,
                                    &s.reachable_blocks, &s.scan_ns}) {
                *field = in.varint("leak scan figure");
            }
            return;
        }
        if (record.sub_kind == static_cast<uint8_t>(f::LeakScanPart::Blocks)) {
            const uint64_t count = in.varint("leak scan block count");
            // Each block takes at least two bytes: bound the count by what the chunk holds.
            if (count > static_cast<uint64_t>(in.remaining()) / 2) throw OutOfBytes{};
            record.scan_blocks.clear();
            uint64_t address = 0;
            for (uint64_t i = 0; i < count; ++i) {
                address += static_cast<uint64_t>(f::zigzag_decode(in.varint("block address")));
                const uint32_t kind = in.u32_varint("block kind");
                if (kind != static_cast<uint32_t>(f::BlockKind::Definite) &&
                    kind != static_cast<uint32_t>(f::BlockKind::Indirect)) {
                    throw Malformed{fmt::format("leak scan lists a block of kind {}", kind)};
                }
                record.scan_blocks.emplace_back(address, static_cast<f::BlockKind>(kind));
            }
            return;
        }
        throw Malformed{fmt::format("unknown leak scan part {}", record.sub_kind)};
    }
}

bool is_known(uint8_t kind_byte) {
    switch (f::kind_of(kind_byte)) {
    case f::RecordKind::Alloc:
        return true; // its sub-kind is checked with the payload
    case f::RecordKind::Free:
    case f::RecordKind::Stack:
    case f::RecordKind::ModuleLoad:
    case f::RecordKind::ModuleUnload:
    case f::RecordKind::ProcessInfo:
    case f::RecordKind::Snapshot:
    case f::RecordKind::ProcessMemory:
    case f::RecordKind::MallocInfo:
    case f::RecordKind::SizeClassTotals:
    case f::RecordKind::Note:
        return f::sub_kind_of(kind_byte) == 0;
    case f::RecordKind::MemoryMap:
        return f::sub_kind_of(kind_byte) <= static_cast<uint8_t>(f::MemoryMapOp::Remap);
    case f::RecordKind::LeakScan:
        return f::sub_kind_of(kind_byte) <= static_cast<uint8_t>(f::LeakScanPart::Blocks);
    }
    return false;
}

// The longest Alloc record: the kind byte and four varints (time, address, size, stack id).
constexpr uint64_t kLongestEvent = 1 + 4 * f::kMaxVarintBytes;

// read_varint for a cursor known to have kMaxVarintBytes readable bytes: no end check per byte.
inline bool read_varint_unbounded(const uint8_t*& cursor, uint64_t& value) {
    uint64_t result = 0;
    for (unsigned i = 0, shift = 0; i < f::kMaxVarintBytes; ++i, shift += 7) {
        const uint8_t byte = cursor[i];
        result |= static_cast<uint64_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            cursor += i + 1;
            value = result;
            return true;
        }
    }
    return false;
}

// The fields of an Alloc or Free decoded by decode_event_fast().
struct FastEvent {
    bool alloc;
    uint8_t sub_kind;
    uint64_t time_delta;
    uint64_t address_delta;
    uint64_t size;
    uint64_t stack_id;
};

// Decodes an Alloc or Free at `p`, which has kLongestEvent readable bytes; the number of bytes
// it takes, or 0 for anything else (including a malformed event, which the general path
// reports). The flags are computed from the kind byte in registers: comparing the kind and
// sub-kind as stored in `event` made GCC read them back as one 16-bit word, a failed store
// forwarding on every event.
inline size_t decode_event_fast(const uint8_t* const begin, FastEvent& event) {
    const uint8_t* p = begin;
    const uint8_t kind_byte = *p++;
    constexpr uint8_t kFree = f::make_kind_byte(f::RecordKind::Free);
    const bool alloc = f::kind_of(kind_byte) == f::RecordKind::Alloc &&
                       f::sub_kind_of(kind_byte) <= static_cast<uint8_t>(f::AllocFunction::Aligned);
    if (!alloc && kind_byte != kFree) return 0;
    event.alloc = alloc;
    event.sub_kind = f::sub_kind_of(kind_byte);
    if (!read_varint_unbounded(p, event.time_delta) ||
        !read_varint_unbounded(p, event.address_delta))
        return 0;
    event.size = 0;
    event.stack_id = f::kNoStack;
    if (alloc && (!read_varint_unbounded(p, event.size) ||
                  !read_varint_unbounded(p, event.stack_id) || event.stack_id > UINT32_MAX)) {
        return 0;
    }
    return static_cast<size_t>(p - begin);
}

} // namespace

bool RecordDecoder::next_event_fast(Record& record) {
    FastEvent event;
    const size_t length = decode_event_fast(file_ + position_, event);
    if (length == 0) return false;
    record.kind = event.alloc ? f::RecordKind::Alloc : f::RecordKind::Free;
    record.sub_kind = event.sub_kind;
    record.offset = position_;
    record.time_ns = time_ns_ + event.time_delta;
    previous_address_ += static_cast<uint64_t>(f::zigzag_decode(event.address_delta));
    record.address = previous_address_;
    if (event.alloc) {
        record.size = event.size;
        record.stack_id = static_cast<uint32_t>(event.stack_id);
    }
    time_ns_ = record.time_ns;
    position_ += length;
    return true;
}

uint64_t RecordDecoder::skip_events(uint64_t* latest_time_ns) {
    uint64_t count = 0;
    uint64_t time_ns = time_ns_;
    uint64_t latest = *latest_time_ns;
    uint64_t position = position_;
    uint64_t address = previous_address_;
    while (end_ > position && end_ - position >= kLongestEvent) {
        FastEvent fast;
        const size_t length = decode_event_fast(file_ + position, fast);
        if (length == 0) break;
        time_ns += fast.time_delta;
        latest = std::max(latest, time_ns);
        address += static_cast<uint64_t>(f::zigzag_decode(fast.address_delta));
        position += length;
        ++count;
    }
    time_ns_ = time_ns;
    position_ = position;
    previous_address_ = address;
    *latest_time_ns = latest;
    return count;
}

size_t RecordDecoder::next_events(HeapEvent* out, size_t max, uint32_t thread_index,
                                  Record& scratch) {
    size_t count = 0;
    while (count < max) {
        // The usual case, inlined: an event far from the end of the span.
        if (end_ > position_ && end_ - position_ >= kLongestEvent) {
            FastEvent fast;
            const size_t length = decode_event_fast(file_ + position_, fast);
            if (length != 0) {
                HeapEvent& event = out[count++];
                event.type = fast.alloc ? HeapEvent::Type::Alloc : HeapEvent::Type::Free;
                event.function = static_cast<f::AllocFunction>(fast.sub_kind);
                event.stack_id = static_cast<uint32_t>(fast.stack_id);
                event.thread_index = thread_index;
                time_ns_ += fast.time_delta;
                event.time_ns = time_ns_;
                previous_address_ += static_cast<uint64_t>(f::zigzag_decode(fast.address_delta));
                event.address = previous_address_;
                event.size = fast.size;
                event.offset = position_;
                position_ += length;
                continue;
            }
        }
        if (!next(scratch)) break;
        const bool alloc = scratch.kind == f::RecordKind::Alloc;
        if (!alloc && scratch.kind != f::RecordKind::Free) continue;
        HeapEvent& event = out[count++];
        event.type = alloc ? HeapEvent::Type::Alloc : HeapEvent::Type::Free;
        event.function = static_cast<f::AllocFunction>(scratch.sub_kind);
        event.stack_id = alloc ? scratch.stack_id : f::kNoStack;
        event.thread_index = thread_index;
        event.time_ns = scratch.time_ns;
        event.address = scratch.address;
        event.size = alloc ? scratch.size : 0;
        event.offset = scratch.offset;
    }
    return count;
}

RecordDecoder::RecordDecoder(const uint8_t* file, const ChunkSpan& span, const std::string* path)
    : file_(file), path_(path), position_(span.begin), end_(span.end), cut_short_(span.cut_short),
      time_ns_(span.base_time_ns) {
}

bool RecordDecoder::next(Record& record) {
    if (position_ >= end_) return false;
    // Allocs and frees are nearly every record: far from the end of the span they are decoded
    // without a bounds check per byte.
    if (end_ - position_ >= kLongestEvent && next_event_fast(record)) return true;
    const uint64_t offset = position_;
    ByteReader in(file_ + position_, file_ + end_);
    // Decode into locals first so that a record cut short leaves the decoder unchanged.
    uint64_t previous_address = previous_address_;
    try {
        const uint8_t kind_byte = in.u8();
        if (!is_known(kind_byte)) {
            throw Malformed{fmt::format("unknown record kind 0x{:02x}", kind_byte)};
        }
        record.kind = f::kind_of(kind_byte);
        record.sub_kind = f::sub_kind_of(kind_byte);
        record.offset = offset;
        record.time_ns = time_ns_ + in.varint("time delta");
        decode_payload(in, record, previous_address);
    } catch (const OutOfBytes&) {
        if (cut_short_) return false;
        throw DumpError(fmt::format("{}: at byte {}: {} record runs past its chunk's committed "
                                    "bytes (which end at byte {})",
                                    *path_, offset, kind_name(record.kind), end_));
    } catch (const Malformed& malformed) {
        throw DumpError(fmt::format("{}: at byte {}: {}", *path_, offset, malformed.what));
    }
    time_ns_ = record.time_ns;
    previous_address_ = previous_address;
    position_ = offset + static_cast<uint64_t>(in.cursor() - (file_ + offset));
    return true;
}

} // namespace memtrace
