#include "dump_builder.h"

#include "memtrace/record_encoding.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace memtrace::test {

namespace f = memtrace::format;

ChunkBuilder::ChunkBuilder(uint32_t thread, uint64_t base_time)
    : thread_index(thread), base_time_ns(base_time), last_time_ns_(base_time) {
}

uint64_t ChunkBuilder::delta_to(uint64_t time_ns) {
    if (time_ns < last_time_ns_) throw std::logic_error("chunk times must not go backwards");
    const uint64_t delta = time_ns - last_time_ns_;
    last_time_ns_ = time_ns;
    return delta;
}

void ChunkBuilder::begin_record() {
    record_offsets_.push_back(records_.size());
}

namespace {

// Runs an encoder into a scratch buffer of `room` bytes and appends what it wrote.
template <typename Encode> void append(std::vector<uint8_t>& out, size_t room, Encode encode) {
    std::vector<uint8_t> buffer(room);
    uint8_t* end = encode(buffer.data());
    out.insert(out.end(), buffer.data(), end);
}

} // namespace

ChunkBuilder& ChunkBuilder::alloc(uint64_t time_ns, uint64_t address, uint64_t size,
                                  uint32_t stack_id, f::AllocFunction function) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    const auto address_delta = static_cast<int64_t>(address - last_address_);
    last_address_ = address;
    append(records_, f::kMaxAllocRecord, [&](uint8_t* out) {
        return f::encode_alloc(out, delta, address_delta, size, stack_id, function);
    });
    return *this;
}

ChunkBuilder& ChunkBuilder::free(uint64_t time_ns, uint64_t address) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    const auto address_delta = static_cast<int64_t>(address - last_address_);
    last_address_ = address;
    append(records_, f::kMaxFreeRecord,
           [&](uint8_t* out) { return f::encode_free(out, delta, address_delta); });
    return *this;
}

ChunkBuilder& ChunkBuilder::stack(uint64_t time_ns, uint32_t stack_id,
                                  const std::vector<uint64_t>& frames, bool truncated) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    append(records_, 1 + (3 + frames.size()) * f::kMaxVarintBytes, [&](uint8_t* out) {
        return f::encode_stack(out, delta, stack_id, frames.data(),
                               static_cast<uint32_t>(frames.size()), truncated);
    });
    return *this;
}

ChunkBuilder& ChunkBuilder::module_load(uint64_t time_ns, uint32_t module_id, uint64_t load_bias,
                                        uint64_t start, uint64_t end, const std::string& build_id,
                                        const std::string& path) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    const auto build_id_length = static_cast<uint32_t>(build_id.size());
    const auto path_length = static_cast<uint32_t>(path.size());
    append(records_, f::module_load_record_size(build_id_length, path_length), [&](uint8_t* out) {
        return f::encode_module_load(out, delta, module_id, load_bias, start, end,
                                     reinterpret_cast<const uint8_t*>(build_id.data()),
                                     build_id_length, path.data(), path_length);
    });
    return *this;
}

ChunkBuilder& ChunkBuilder::module_unload(uint64_t time_ns, uint32_t module_id) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    append(records_, 1 + 2 * f::kMaxVarintBytes,
           [&](uint8_t* out) { return f::encode_module_unload(out, delta, module_id); });
    return *this;
}

ChunkBuilder& ChunkBuilder::process_info(uint64_t time_ns, const std::string& exe,
                                         const std::string& cmdline) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    const auto exe_length = static_cast<uint32_t>(exe.size());
    const auto cmdline_length = static_cast<uint32_t>(cmdline.size());
    append(records_, f::process_info_record_size(exe_length, cmdline_length), [&](uint8_t* out) {
        return f::encode_process_info(out, delta, exe.data(), exe_length, cmdline.data(),
                                      cmdline_length);
    });
    return *this;
}

ChunkBuilder& ChunkBuilder::snapshot(uint64_t time_ns, f::SnapshotTrigger trigger,
                                     const std::string& label) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    const auto length = static_cast<uint32_t>(label.size());
    append(records_, f::snapshot_record_size(length), [&](uint8_t* out) {
        return f::encode_snapshot(out, delta, trigger, label.data(), length);
    });
    return *this;
}

ChunkBuilder& ChunkBuilder::process_memory(uint64_t time_ns, const f::ProcessMemory& memory) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    append(records_, f::kMaxProcessMemoryRecord,
           [&](uint8_t* out) { return f::encode_process_memory(out, delta, memory); });
    return *this;
}

ChunkBuilder& ChunkBuilder::malloc_info(uint64_t time_ns, const std::string& xml) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    const auto length = static_cast<uint32_t>(xml.size());
    append(records_, f::malloc_info_record_size(length),
           [&](uint8_t* out) { return f::encode_malloc_info(out, delta, xml.data(), length); });
    return *this;
}

ChunkBuilder& ChunkBuilder::size_class_totals(uint64_t time_ns,
                                              const std::vector<f::SizeClassCounts>& classes) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    append(records_, f::kMaxSizeClassTotalsRecord, [&](uint8_t* out) {
        return f::encode_size_class_totals(out, delta, classes.data(),
                                           static_cast<uint32_t>(classes.size()));
    });
    return *this;
}

ChunkBuilder& ChunkBuilder::map(uint64_t time_ns, uint64_t address, uint64_t length, uint32_t prot,
                                uint32_t flags, uint32_t stack_id) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    append(records_, f::kMaxMemoryMapRecord, [&](uint8_t* out) {
        return f::encode_map(out, delta, address, length, prot, flags, stack_id);
    });
    return *this;
}

ChunkBuilder& ChunkBuilder::unmap(uint64_t time_ns, uint64_t address, uint64_t length) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    append(records_, f::kMaxMemoryMapRecord,
           [&](uint8_t* out) { return f::encode_unmap(out, delta, address, length); });
    return *this;
}

ChunkBuilder& ChunkBuilder::remap(uint64_t time_ns, uint64_t old_address, uint64_t old_length,
                                  uint64_t new_address, uint64_t new_length, uint32_t stack_id) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    append(records_, f::kMaxMemoryMapRecord, [&](uint8_t* out) {
        return f::encode_remap(out, delta, old_address, old_length, new_address, new_length,
                               stack_id);
    });
    return *this;
}

ChunkBuilder& ChunkBuilder::note(uint64_t time_ns, f::NoteCode code, const std::string& text) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    const auto length = static_cast<uint32_t>(text.size());
    append(records_, f::note_record_size(length),
           [&](uint8_t* out) { return f::encode_note(out, delta, code, text.data(), length); });
    return *this;
}

ChunkBuilder& ChunkBuilder::leak_scan(uint64_t time_ns, const f::LeakScanSummary& summary) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    append(records_, f::kMaxLeakScanSummaryRecord,
           [&](uint8_t* out) { return f::encode_leak_scan_summary(out, delta, summary); });
    return *this;
}

ChunkBuilder& ChunkBuilder::leak_scan_blocks(uint64_t time_ns,
                                             const std::vector<uint64_t>& addresses,
                                             const std::vector<f::BlockKind>& kinds) {
    begin_record();
    const uint64_t delta = delta_to(time_ns);
    const auto count = static_cast<uint32_t>(addresses.size());
    append(records_, f::leak_scan_blocks_record_size(count), [&](uint8_t* out) {
        return f::encode_leak_scan_blocks(out, delta, addresses.data(), kinds.data(), count);
    });
    return *this;
}

ChunkBuilder& ChunkBuilder::raw(const std::vector<uint8_t>& bytes) {
    begin_record();
    records_.insert(records_.end(), bytes.begin(), bytes.end());
    return *this;
}

DumpBuilder::DumpBuilder() {
    std::memcpy(header.magic, f::kDumpMagic, sizeof(header.magic));
    header.format_version = f::kFormatVersion;
    header.header_size = f::kHeaderSize;
    header.endian_tag = f::kEndianTag;
    header.pointer_size = sizeof(void*);
    header.chunk_size = f::kDefaultChunkSize;
    header.max_depth = 64;
    header.pid = 4242;
    header.ppid = 1;
    header.start_realtime_ns = 1'700'000'000'000'000'000;
    header.start_monotonic_ns = kStartNs;
    header.end_reason = static_cast<uint32_t>(f::EndReason::Exit);
    header.exit_code = 0;
    header.end_monotonic_ns = kEndNs;
    header.end_writer = static_cast<uint32_t>(f::EndWriter::Preload);
    header.clean = 1;
}

ChunkBuilder& DumpBuilder::add_chunk(uint32_t thread_index, uint64_t base_time_ns) {
    return chunks.emplace_back(thread_index, base_time_ns);
}

uint64_t DumpBuilder::chunk_offset(size_t chunk) const {
    uint64_t offset = f::kHeaderSize;
    for (size_t i = 0; i < chunk; ++i) {
        const ChunkBuilder& c = chunks.at(i);
        // The file lays chunks out by their real size, whatever capacity the header claims.
        offset += sizeof(f::ChunkHeader) + c.records().size() + c.spare_capacity;
    }
    return offset;
}

uint64_t DumpBuilder::record_offset(size_t chunk, size_t record) const {
    return chunk_offset(chunk) + sizeof(f::ChunkHeader) + chunks.at(chunk).record_offset(record);
}

std::vector<uint8_t> DumpBuilder::bytes() const {
    // Laid out with the real header size, whatever header.header_size claims.
    std::vector<uint8_t> out(f::kHeaderSize, 0);
    for (const ChunkBuilder& chunk : chunks) {
        f::ChunkHeader chunk_header{};
        const auto records = static_cast<uint32_t>(chunk.records().size());
        const auto natural =
            static_cast<uint32_t>(sizeof(f::ChunkHeader) + records + chunk.spare_capacity);
        chunk_header.magic = chunk.magic.value_or(f::kChunkMagic);
        chunk_header.capacity = chunk.capacity.value_or(natural);
        chunk_header.committed = chunk.committed.value_or(records);
        chunk_header.thread_index = chunk.thread_index;
        chunk_header.os_tid = 1000 + chunk.thread_index;
        chunk_header.base_time_ns = chunk.base_time_ns;
        const auto* raw = reinterpret_cast<const uint8_t*>(&chunk_header);
        out.insert(out.end(), raw, raw + sizeof(chunk_header));
        out.insert(out.end(), chunk.records().begin(), chunk.records().end());
        // The chunk's room past its records, as far as the file lays chunks end to end.
        out.resize(out.size() + (natural - sizeof(f::ChunkHeader) - records), 0);
    }
    f::FileHeader written = header;
    written.data_end = data_end.value_or(out.size());
    std::memcpy(out.data(), &written, sizeof(written));
    return out;
}

void DumpBuilder::write(const std::filesystem::path& path) const {
    write_file(path, bytes());
}

void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

TempDir::TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "memtrace-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

} // namespace memtrace::test
