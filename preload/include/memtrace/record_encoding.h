// Encoders for the records of dump_format.h. Used by the preload's chunk writer and by tests that
// craft dumps. Each function writes one whole record at `out` and returns the byte after it;
// the caller guarantees room for the record's maximum size.
#pragma once

#include <stdint.h>
#include <string.h>

#include "memtrace/dump_format.h"
#include "memtrace/varint.h"

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

} // namespace memtrace::format
