// Encoders for the records of dump_format.h. Used by the preload's chunk writer and by tests that
// craft dumps. Each function writes one whole record at `out` and returns the byte after it;
// the caller guarantees room for the record's maximum size.
#pragma once

#include "memtrace/dump_format.h"
#include "memtrace/varint.h"

#include <initializer_list>
#include <stdint.h>
#include <string.h>

namespace memtrace::format {

inline constexpr unsigned kMaxAllocRecord = 1 + 4 * kMaxVarintBytes;
inline constexpr unsigned kMaxFreeRecord = 1 + 2 * kMaxVarintBytes;
inline constexpr unsigned kMaxStackRecord = 1 + (3 + kMaxStackDepth) * kMaxVarintBytes;

inline uint8_t* encode_alloc(uint8_t* out, uint64_t time_delta, int64_t address_delta,
                             uint64_t size, uint32_t stack_id, AllocFunction function) {
    *out++ = make_kind_byte(RecordKind::Alloc, static_cast<uint8_t>(function));
    out = write_varint(out, time_delta);
    out = write_varint(out, zigzag_encode(address_delta));
    out = write_varint(out, size);
    return write_varint(out, stack_id);
}

inline uint8_t* encode_free(uint8_t* out, uint64_t time_delta, int64_t address_delta) {
    *out++ = make_kind_byte(RecordKind::Free);
    out = write_varint(out, time_delta);
    return write_varint(out, zigzag_encode(address_delta));
}

inline uint8_t* encode_stack(uint8_t* out, uint64_t time_delta, uint32_t stack_id,
                             const uint64_t* frames, uint32_t depth, bool truncated) {
    *out++ = make_kind_byte(RecordKind::Stack);
    out = write_varint(out, time_delta);
    out = write_varint(out, stack_id);
    out = write_varint(out, (static_cast<uint64_t>(depth) << 1) | (truncated ? 1u : 0u));
    uint64_t previous = 0;
    for (uint32_t i = 0; i < depth; ++i) {
        const uint64_t frame = frames[i];
        out = i == 0 ? write_varint(out, frame)
                     : write_varint(out, zigzag_encode(static_cast<int64_t>(frame - previous)));
        previous = frame;
    }
    return out;
}

inline uint8_t* encode_bytes(uint8_t* out, const void* data, uint32_t length) {
    out = write_varint(out, length);
    memcpy(out, data, length);
    return out + length;
}

// Room needed by encode_module_load for the given lengths.
inline constexpr uint64_t module_load_record_size(uint32_t build_id_length, uint32_t path_length) {
    return 1 + 7 * kMaxVarintBytes + build_id_length + path_length;
}

inline uint8_t* encode_module_load(uint8_t* out, uint64_t time_delta, uint32_t module_id,
                                   uint64_t load_bias, uint64_t start, uint64_t end,
                                   const uint8_t* build_id, uint32_t build_id_length,
                                   const char* path, uint32_t path_length) {
    *out++ = make_kind_byte(RecordKind::ModuleLoad);
    out = write_varint(out, time_delta);
    out = write_varint(out, module_id);
    out = write_varint(out, load_bias);
    out = write_varint(out, start);
    out = write_varint(out, end);
    out = encode_bytes(out, build_id, build_id_length);
    return encode_bytes(out, path, path_length);
}

inline uint8_t* encode_module_unload(uint8_t* out, uint64_t time_delta, uint32_t module_id) {
    *out++ = make_kind_byte(RecordKind::ModuleUnload);
    out = write_varint(out, time_delta);
    return write_varint(out, module_id);
}

inline constexpr uint64_t process_info_record_size(uint32_t exe_length, uint32_t cmdline_length) {
    return 1 + 3 * kMaxVarintBytes + exe_length + cmdline_length;
}

inline uint8_t* encode_process_info(uint8_t* out, uint64_t time_delta, const char* exe,
                                    uint32_t exe_length, const char* cmdline,
                                    uint32_t cmdline_length) {
    *out++ = make_kind_byte(RecordKind::ProcessInfo);
    out = write_varint(out, time_delta);
    out = encode_bytes(out, exe, exe_length);
    return encode_bytes(out, cmdline, cmdline_length);
}

inline constexpr uint64_t snapshot_record_size(uint32_t label_length) {
    return 1 + 3 * kMaxVarintBytes + label_length;
}

inline uint8_t* encode_snapshot(uint8_t* out, uint64_t time_delta, SnapshotTrigger trigger,
                                const char* label, uint32_t label_length) {
    *out++ = make_kind_byte(RecordKind::Snapshot);
    out = write_varint(out, time_delta);
    out = write_varint(out, static_cast<uint64_t>(trigger));
    return encode_bytes(out, label, label_length);
}

inline constexpr unsigned kMaxProcessMemoryRecord = 1 + 7 * kMaxVarintBytes;

inline uint8_t* encode_process_memory(uint8_t* out, uint64_t time_delta, const ProcessMemory& m) {
    *out++ = make_kind_byte(RecordKind::ProcessMemory);
    out = write_varint(out, time_delta);
    for (uint64_t value : {m.vm_rss, m.vm_size, m.vm_hwm, m.rss_anon, m.rss_file, m.threads})
        out = write_varint(out, value);
    return out;
}

inline constexpr uint64_t malloc_info_record_size(uint32_t xml_length) {
    return 1 + 2 * kMaxVarintBytes + xml_length;
}

inline uint8_t* encode_malloc_info(uint8_t* out, uint64_t time_delta, const char* xml,
                                   uint32_t xml_length) {
    *out++ = make_kind_byte(RecordKind::MallocInfo);
    out = write_varint(out, time_delta);
    return encode_bytes(out, xml, xml_length);
}

inline constexpr unsigned kMaxSizeClassTotalsRecord =
    1 + 2 * kMaxVarintBytes + kSizeClassCount * 5 * kMaxVarintBytes;

inline uint8_t* encode_size_class_totals(uint8_t* out, uint64_t time_delta,
                                         const SizeClassCounts* classes, uint32_t class_count) {
    *out++ = make_kind_byte(RecordKind::SizeClassTotals);
    out = write_varint(out, time_delta);
    out = write_varint(out, class_count);
    for (uint32_t i = 0; i < class_count; ++i) {
        const SizeClassCounts& c = classes[i];
        for (uint64_t value :
             {c.count, c.requested_bytes, c.usable_bytes, c.free_count, c.freed_usable_bytes})
            out = write_varint(out, value);
    }
    return out;
}

inline constexpr unsigned kMaxMemoryMapRecord = 1 + 6 * kMaxVarintBytes;

inline uint8_t* encode_map(uint8_t* out, uint64_t time_delta, uint64_t address, uint64_t length,
                           uint32_t prot, uint32_t flags, uint32_t stack_id) {
    *out++ = make_kind_byte(RecordKind::MemoryMap, static_cast<uint8_t>(MemoryMapOp::Map));
    out = write_varint(out, time_delta);
    for (uint64_t value : {address, length, uint64_t{prot}, uint64_t{flags}, uint64_t{stack_id}})
        out = write_varint(out, value);
    return out;
}

inline uint8_t* encode_unmap(uint8_t* out, uint64_t time_delta, uint64_t address, uint64_t length) {
    *out++ = make_kind_byte(RecordKind::MemoryMap, static_cast<uint8_t>(MemoryMapOp::Unmap));
    out = write_varint(out, time_delta);
    out = write_varint(out, address);
    return write_varint(out, length);
}

inline uint8_t* encode_remap(uint8_t* out, uint64_t time_delta, uint64_t old_address,
                             uint64_t old_length, uint64_t new_address, uint64_t new_length,
                             uint32_t stack_id) {
    *out++ = make_kind_byte(RecordKind::MemoryMap, static_cast<uint8_t>(MemoryMapOp::Remap));
    out = write_varint(out, time_delta);
    for (uint64_t value : {old_address, old_length, new_address, new_length, uint64_t{stack_id}})
        out = write_varint(out, value);
    return out;
}

inline constexpr uint64_t note_record_size(uint32_t text_length) {
    return 1 + 3 * kMaxVarintBytes + text_length;
}

inline uint8_t* encode_note(uint8_t* out, uint64_t time_delta, NoteCode code, const char* text,
                            uint32_t text_length) {
    *out++ = make_kind_byte(RecordKind::Note);
    out = write_varint(out, time_delta);
    out = write_varint(out, static_cast<uint64_t>(code));
    return encode_bytes(out, text, text_length);
}

inline constexpr unsigned kMaxLeakScanSummaryRecord = 1 + 7 * kMaxVarintBytes;

inline uint8_t* encode_leak_scan_summary(uint8_t* out, uint64_t time_delta,
                                         const LeakScanSummary& s) {
    *out++ = make_kind_byte(RecordKind::LeakScan, static_cast<uint8_t>(LeakScanPart::Summary));
    out = write_varint(out, time_delta);
    for (uint64_t value : {uint64_t{static_cast<uint32_t>(s.status)}, s.live_blocks,
                           s.definite_blocks, s.indirect_blocks, s.reachable_blocks, s.scan_ns})
        out = write_varint(out, value);
    return out;
}

// A Blocks record of the leak scan: room for `count` blocks.
inline constexpr uint64_t leak_scan_blocks_record_size(uint32_t count) {
    return 1 + 2 * kMaxVarintBytes + uint64_t{count} * 2 * kMaxVarintBytes;
}

inline uint8_t* encode_leak_scan_blocks(uint8_t* out, uint64_t time_delta,
                                        const uint64_t* addresses, const BlockKind* kinds,
                                        uint32_t count) {
    *out++ = make_kind_byte(RecordKind::LeakScan, static_cast<uint8_t>(LeakScanPart::Blocks));
    out = write_varint(out, time_delta);
    out = write_varint(out, count);
    uint64_t previous = 0;
    for (uint32_t i = 0; i < count; ++i) {
        out = write_varint(out, zigzag_encode(static_cast<int64_t>(addresses[i] - previous)));
        out = write_varint(out, static_cast<uint64_t>(kinds[i]));
        previous = addresses[i];
    }
    return out;
}

} // namespace memtrace::format
