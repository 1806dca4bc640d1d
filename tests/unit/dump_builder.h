// Crafts dumps byte by byte with the encoders of record_encoding.h, so tests know exactly what
// a dump holds (and where each record lies) without running the preload.
#pragma once

#include "memtrace/dump_format.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace memtrace::test {

// Records of one chunk. Times are absolute CLOCK_MONOTONIC ns, addresses absolute: the builder
// computes the deltas the format stores. Times must not go backwards within a chunk.
class ChunkBuilder {
public:
    ChunkBuilder(uint32_t thread_index, uint64_t base_time_ns);

    ChunkBuilder& alloc(uint64_t time_ns, uint64_t address, uint64_t size, uint32_t stack_id,
                        format::AllocFunction function = format::AllocFunction::Malloc);
    ChunkBuilder& free(uint64_t time_ns, uint64_t address);
    ChunkBuilder& stack(uint64_t time_ns, uint32_t stack_id, const std::vector<uint64_t>& frames,
                        bool truncated = false);
    ChunkBuilder& module_load(uint64_t time_ns, uint32_t module_id, uint64_t load_bias,
                              uint64_t start, uint64_t end, const std::string& build_id,
                              const std::string& path);
    ChunkBuilder& module_unload(uint64_t time_ns, uint32_t module_id);
    ChunkBuilder& process_info(uint64_t time_ns, const std::string& exe,
                               const std::string& cmdline);
    ChunkBuilder& snapshot(uint64_t time_ns, format::SnapshotTrigger trigger,
                           const std::string& label);
    ChunkBuilder& process_memory(uint64_t time_ns, const format::ProcessMemory& memory);
    ChunkBuilder& malloc_info(uint64_t time_ns, const std::string& xml);
    ChunkBuilder& size_class_totals(uint64_t time_ns,
                                    const std::vector<format::SizeClassCounts>& classes);
    ChunkBuilder& map(uint64_t time_ns, uint64_t address, uint64_t length, uint32_t prot,
                      uint32_t flags, uint32_t stack_id);
    ChunkBuilder& unmap(uint64_t time_ns, uint64_t address, uint64_t length);
    ChunkBuilder& remap(uint64_t time_ns, uint64_t old_address, uint64_t old_length,
                        uint64_t new_address, uint64_t new_length, uint32_t stack_id);
    ChunkBuilder& note(uint64_t time_ns, format::NoteCode code, const std::string& text);
    ChunkBuilder& leak_scan(uint64_t time_ns, const format::LeakScanSummary& summary);
    ChunkBuilder& leak_scan_blocks(uint64_t time_ns, const std::vector<uint64_t>& addresses,
                                   const std::vector<format::BlockKind>& kinds);
    // Bytes appended as one "record", for input no encoder produces.
    ChunkBuilder& raw(const std::vector<uint8_t>& bytes);

    const std::vector<uint8_t>& records() const {
        return records_;
    }
    // Offset of record i from the start of the chunk's records.
    size_t record_offset(size_t i) const {
        return record_offsets_.at(i);
    }
    size_t record_count() const {
        return record_offsets_.size();
    }

    uint32_t thread_index;
    uint64_t base_time_ns;
    // Header fields to write instead of the consistent ones.
    std::optional<uint32_t> magic;
    std::optional<uint32_t> capacity;
    std::optional<uint32_t> committed;
    uint32_t spare_capacity = 0; // free room after the records

private:
    uint64_t delta_to(uint64_t time_ns);
    void begin_record();

    std::vector<uint8_t> records_;
    std::vector<size_t> record_offsets_;
    uint64_t last_time_ns_;
    uint64_t last_address_ = 0;
};

class DumpBuilder {
public:
    DumpBuilder(); // a header for a process that exited cleanly with code 0

    ChunkBuilder& add_chunk(uint32_t thread_index, uint64_t base_time_ns);

    // Absolute file offsets.
    uint64_t chunk_offset(size_t chunk) const;
    uint64_t record_offset(size_t chunk, size_t record) const;

    std::vector<uint8_t> bytes() const;
    void write(const std::filesystem::path& path) const;

    format::FileHeader header{};
    std::optional<uint64_t> data_end; // instead of the end of the last chunk
    std::vector<ChunkBuilder> chunks;

    static constexpr uint64_t kStartNs = 1'000'000'000;
    static constexpr uint64_t kEndNs = 3'500'000'000;
};

// Writes `bytes` to `path`.
void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes);

// A fresh directory under the system temp directory, removed with everything in it.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const {
        return path_;
    }
    std::filesystem::path operator/(const std::string& name) const {
        return path_ / name;
    }

private:
    std::filesystem::path path_;
};

} // namespace memtrace::test
