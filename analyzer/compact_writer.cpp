#include "compact_writer.h"

#include "chunk_merge.h"
#include "compact_events.h"
#include "compact_format.h"
#include "compact_sites.h"
#include "dump_error.h"
#include "mapped_file.h"
#include "memtrace/varint.h"
#include "progress.h"
#include "zstd_frame.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace memtrace {
namespace {

namespace f = memtrace::format;
namespace c = memtrace::compact;

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

// An output file written front to back, with the header patched in at the end.
class OutputFile {
public:
    OutputFile(const std::string& path, mode_t mode) : path_(path) {
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd_ < 0) throw_errno("cannot create " + path);
    }
    ~OutputFile() {
        if (fd_ >= 0) ::close(fd_);
    }
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    void write_at(uint64_t offset, const void* data, size_t size) {
        const auto* p = static_cast<const uint8_t*>(data);
        while (size > 0) {
            const ssize_t n = ::pwrite(fd_, p, size, static_cast<off_t>(offset));
            if (n < 0) {
                if (errno == EINTR) continue;
                throw_errno("cannot write " + path_);
            }
            p += n;
            size -= static_cast<size_t>(n);
            offset += static_cast<uint64_t>(n);
        }
    }
    void sync_and_close() {
        if (::fsync(fd_) != 0) throw_errno("cannot flush " + path_ + " to the disk");
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) throw_errno("cannot close " + path_);
    }

private:
    std::string path_;
    int fd_ = -1;
};

// Compresses frames of whole records of one section and writes them (or keeps them, for the
// section written last).
class SectionWriter {
public:
    SectionWriter(ZstdCompressor& compressor) : compressor_(compressor) {
        content_.reserve(c::kFrameTarget + 4096);
    }

    std::vector<uint8_t>& content() {
        return content_;
    }
    bool full() const {
        return content_.size() >= c::kFrameTarget;
    }
    // Compresses what content() holds into a frame appended to `out`.
    void close_frame(std::vector<uint8_t>& out) {
        if (content_.empty()) return;
        compressor_.compress(content_, compressed_);
        const c::FrameHeader frame{static_cast<uint32_t>(compressed_.size()),
                                   static_cast<uint32_t>(content_.size())};
        const auto* header = reinterpret_cast<const uint8_t*>(&frame);
        out.insert(out.end(), header, header + sizeof(frame));
        out.insert(out.end(), compressed_.begin(), compressed_.end());
        section_.frames += 1;
        section_.content_bytes += content_.size();
        section_.bytes += sizeof(frame) + compressed_.size();
        content_.clear();
    }
    c::Section& section() {
        return section_;
    }

private:
    ZstdCompressor& compressor_;
    std::vector<uint8_t> content_;
    std::vector<uint8_t> compressed_;
    c::Section section_{};
};

void put_varint(std::vector<uint8_t>& out, uint64_t value) {
    uint8_t bytes[f::kMaxVarintBytes];
    const uint8_t* end = f::write_varint(bytes, value);
    out.insert(out.end(), static_cast<const uint8_t*>(bytes), end);
}

// Groups metadata records into runs of one thread, each run whole inside one frame.
class MetadataEncoder {
public:
    void add(std::vector<uint8_t>& out, const uint8_t* raw, uint64_t raw_size, const Record& record,
             uint32_t thread_index, bool new_frame) {
        if (new_frame || thread_index != run_thread_ || run_.empty()) flush(out);
        run_thread_ = thread_index;
        // Kind byte, new time delta, then the payload as the raw record has it.
        const uint8_t* cursor = raw + 1;
        uint64_t old_delta = 0;
        f::read_varint(&cursor, raw + raw_size, &old_delta);
        run_.push_back(raw[0]);
        put_varint(run_, record.time_ns - time_ns_);
        time_ns_ = record.time_ns;
        run_.insert(run_.end(), cursor, raw + raw_size);
    }
    void flush(std::vector<uint8_t>& out) {
        if (run_.empty()) return;
        put_varint(out, run_thread_);
        put_varint(out, run_.size());
        out.insert(out.end(), run_.begin(), run_.end());
        run_.clear();
    }
    size_t pending() const {
        return run_.size();
    }

private:
    uint64_t time_ns_ = 0;
    uint32_t run_thread_ = 0;
    std::vector<uint8_t> run_;
};

// The times of every record that is not an Alloc or Free, sorted.
std::vector<uint64_t> metadata_record_times(const MappedFile& file,
                                            const std::vector<ChunkSpan>& spans,
                                            const std::string& path) {
    std::vector<uint64_t> times;
    Record record;
    for (const ChunkSpan& span : spans) {
        RecordDecoder decoder(file.bytes().data(), span, &path);
        while (decoder.next(record)) {
            if (record.kind != f::RecordKind::Alloc && record.kind != f::RecordKind::Free) {
                times.push_back(record.time_ns);
            }
        }
        file.release(span.header_offset, span.end);
    }
    std::sort(times.begin(), times.end());
    return times;
}

f::FileHeader check_raw_header(const MappedFile& file, const std::string& path) {
    const auto bytes = file.bytes();
    f::FileHeader header{};
    if (bytes.size() < sizeof(header) ||
        std::memcmp(bytes.data(), f::kDumpMagic, sizeof(f::kDumpMagic)) != 0) {
        throw DumpError(fmt::format("{}: not a raw memtrace dump", path));
    }
    std::memcpy(&header, bytes.data(), sizeof(header));
    if (header.format_version == 0 || header.format_version > f::kFormatVersion ||
        header.endian_tag != f::kEndianTag || header.header_size < sizeof(f::FileHeader) ||
        header.header_size > f::kMaxChunkSize || header.data_end < header.header_size) {
        throw DumpError(fmt::format("{}: damaged header", path));
    }
    return header;
}

// CompactOptions::version resolved.
uint32_t version_to_write(const CompactOptions& options) {
    uint32_t version = options.version;
    if (version == 0) {
        const char* value = std::getenv("MEMTRACE_COMPACT_VERSION");
        version = value != nullptr && std::string(value) == "2" ? 2 : c::kVersion;
    }
    if (version != 2 && version != c::kVersionSites) {
        throw DumpError(fmt::format("cannot write compacted dump version {} (2 or 3)", version));
    }
    return version;
}

// The encoder of the version being written.
class AnyEventEncoder {
public:
    explicit AnyEventEncoder(uint32_t version) : sites_(version == c::kVersionSites) {
    }
    void add(const Record& record, uint32_t thread) {
        sites_ ? site_encoder_.add(record, thread) : event_encoder_.add(record, thread);
    }
    size_t pending_bytes() const {
        return sites_ ? site_encoder_.pending_bytes() : event_encoder_.pending_bytes();
    }
    bool empty() const {
        return sites_ ? site_encoder_.empty() : event_encoder_.empty();
    }
    void take_frame(std::vector<uint8_t>& out) {
        sites_ ? site_encoder_.take_frame(out) : event_encoder_.take_frame(out);
    }
    bool sites() const {
        return sites_;
    }
    compact::SiteEventEncoder& site_encoder() {
        return site_encoder_;
    }

private:
    bool sites_;
    compact::EventEncoder event_encoder_;
    compact::SiteEventEncoder site_encoder_;
};

} // namespace

bool is_compacted_dump(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    char magic[sizeof(c::kMagic)] = {};
    struct stat st {};
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    const bool read_all = regular && ::pread(fd, magic, sizeof(magic), 0) == sizeof(magic);
    ::close(fd);
    return read_all && std::memcmp(magic, c::kMagic, sizeof(magic)) == 0;
}

CompactResult write_compacted_dump(const std::string& input, const std::string& output,
                                   const CompactOptions& options) {
    const MappedFile file(input);
    const f::FileHeader raw_header = check_raw_header(file, input);
    std::vector<ChunkSpan> spans = list_chunks(file, raw_header, input);

    c::Header header{};
    header.version = version_to_write(options);
    header.header_size = c::kHeaderSize;
    header.raw = raw_header;
    header.raw_bytes = file.size();
    header.last_record_time_ns = raw_header.start_monotonic_ns;
    bool cut_short = raw_header.data_end > file.size();
    for (const ChunkSpan& span : spans)
        cut_short = cut_short || span.cut_short;
    if (cut_short) header.flags |= c::kFlagCutShort;

    struct stat st {};
    const mode_t mode = ::stat(input.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0644;
    OutputFile out(output, mode);
    try {
        ZstdCompressor compressor(options.level);
        // Metadata is a small part of a dump (mostly stacks), so the strongest level costs
        // little time there; measured on sqlite3: 8% smaller than level 9.
        ZstdCompressor metadata_compressor(std::max(options.level, 19));
        SectionWriter events(compressor);
        SectionWriter metadata(metadata_compressor);
        std::vector<uint8_t> event_frames;    // written as each frame closes
        std::vector<uint8_t> metadata_frames; // written after the events
        AnyEventEncoder event_encoder(header.version);
        MetadataEncoder metadata_encoder;
        uint64_t offset = c::kHeaderSize;
        header.events.offset = offset;

        Progress progress("compacting dump", file.size(), options.progress);
        const uint8_t* bytes = file.bytes().data();
        ChunkMerge merge(file, std::move(spans), &input);
        Record record;
        size_t chunk = 0;
        uint64_t end = 0;
        uint64_t records = 0;
        // Event times are stored to options.time_quantum_ns, but never moved past a metadata
        // record: an event after a snapshot (or any other record) in time stays after it.
        const uint64_t quantum = std::max<uint64_t>(options.time_quantum_ns, 1);
        const size_t event_frame_bytes =
            std::clamp<size_t>(options.event_frame_bytes, 1, c::kEventFrameTarget);
        header.time_quantum_ns = quantum;
        // The writer may put a record in its chunk after events that are later in time (a
        // snapshot's records are stamped when it was asked for), so the metadata times are
        // collected first, in a pass of their own, and sorted.
        const std::vector<uint64_t> metadata_times =
            quantum > 1 ? metadata_record_times(file, merge.spans(), input)
                        : std::vector<uint64_t>{};
        size_t metadata_before = 0; // metadata_times[0, metadata_before) are < the event
        uint64_t event_time = 0;    // latest event time written
        // Threads that allocated or freed, as the raw reader counts them (memtrace's own sampler
        // thread writes snapshots, not events).
        std::unordered_set<uint32_t> event_threads;
        uint32_t last_event_thread = UINT32_MAX;
        std::vector<uint64_t> scan_listed; // addresses the leak scan lists (site mode keeps them)
        while (merge.next(record, chunk, end)) {
            header.last_record_time_ns = std::max(header.last_record_time_ns, record.time_ns);
            const uint32_t thread = merge.spans()[chunk].thread_index;
            if (record.kind == f::RecordKind::Alloc || record.kind == f::RecordKind::Free) {
                ++header.event_count;
                if (thread != last_event_thread) {
                    event_threads.insert(thread);
                    last_event_thread = thread;
                }
                uint64_t time = record.time_ns - record.time_ns % quantum;
                while (metadata_before < metadata_times.size() &&
                       metadata_times[metadata_before] < record.time_ns) {
                    ++metadata_before;
                }
                if (metadata_before > 0 && time <= metadata_times[metadata_before - 1]) {
                    time = metadata_times[metadata_before - 1] + 1;
                }
                event_time = std::max(event_time, time);
                record.time_ns = event_time;
                event_encoder.add(record, thread);
                // Summing the columns' sizes for every event cost 2.5% of the compaction.
                if ((header.event_count & 255) == 0 &&
                    event_encoder.pending_bytes() >= event_frame_bytes) {
                    event_encoder.take_frame(events.content());
                    events.close_frame(event_frames);
                    out.write_at(offset, event_frames.data(), event_frames.size());
                    offset += event_frames.size();
                    event_frames.clear();
                }
            } else {
                if (record.kind == f::RecordKind::LeakScan &&
                    record.sub_kind == static_cast<uint8_t>(f::LeakScanPart::Blocks)) {
                    for (const auto& [address, kind] : record.scan_blocks)
                        scan_listed.push_back(address);
                }
                const bool new_frame =
                    metadata.content().size() + metadata_encoder.pending() >= c::kFrameTarget;
                if (new_frame) {
                    metadata_encoder.flush(metadata.content());
                    metadata.close_frame(metadata_frames);
                }
                metadata_encoder.add(metadata.content(), bytes + record.offset, end - record.offset,
                                     record, thread, new_frame);
            }
            if ((++records & 0xffff) == 0) progress.update(merge.bytes_done());
        }
        header.thread_count = static_cast<uint32_t>(event_threads.size());
        if (!event_encoder.empty()) event_encoder.take_frame(events.content());
        events.close_frame(event_frames);
        out.write_at(offset, event_frames.data(), event_frames.size());
        offset += event_frames.size();
        header.events.bytes = offset - header.events.offset;

        if (event_encoder.sites()) {
            header.addressed_offset = offset;
            SectionWriter addressed(compressor);
            std::vector<uint8_t> addressed_frames;
            for (std::vector<uint8_t>& content : event_encoder.site_encoder().take_addressed(
                     c::kFrameTarget, std::move(scan_listed))) {
                addressed.content() = std::move(content);
                addressed.close_frame(addressed_frames);
            }
            header.addressed_frames = addressed.section().frames;
            out.write_at(offset, addressed_frames.data(), addressed_frames.size());
            offset += addressed_frames.size();
        }

        metadata_encoder.flush(metadata.content());
        metadata.close_frame(metadata_frames);
        header.metadata.offset = offset;
        out.write_at(offset, metadata_frames.data(), metadata_frames.size());
        offset += metadata_frames.size();
        header.metadata.bytes = offset - header.metadata.offset;

        const auto copy_counts = [](c::Section& to, c::Section& from) {
            to.content_bytes = from.content_bytes;
            to.frames = from.frames;
        };
        copy_counts(header.events, events.section());
        copy_counts(header.metadata, metadata.section());
        // The magic goes in last, so that a file cut while being written is never taken for
        // a compacted dump.
        out.write_at(0, &header, sizeof(header));
        std::memcpy(header.magic, c::kMagic, sizeof(c::kMagic));
        out.write_at(0, header.magic, sizeof(header.magic));
        out.sync_and_close();
        return {file.size(), offset, header.event_count};
    } catch (...) {
        ::unlink(output.c_str());
        throw;
    }
}

CompactResult compact_dump_in_place(const std::string& path, const CompactOptions& options) {
    const std::string temporary = path + ".compacting";
    const CompactResult result = write_compacted_dump(path, temporary, options);
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        throw std::system_error(error, std::generic_category(),
                                "cannot replace " + path + " with its compacted form");
    }
    // Make the rename itself durable.
    const std::string directory = std::filesystem::path(path).parent_path().string();
    const int fd =
        ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
    return result;
}

} // namespace memtrace
