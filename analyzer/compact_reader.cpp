#include "compact_reader.h"

#include "compact_events.h"
#include "compact_events_v1.h"
#include "compact_sites.h"
#include "dump_error.h"
#include "dump_reader.h"
#include "event_batch_queue.h"
#include "memtrace/varint.h"
#include "zstd_frame.h"

#include <cerrno>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <memory>
#include <spdlog/fmt/fmt.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace memtrace {
namespace {

namespace f = memtrace::format;
namespace c = memtrace::compact;

void read_exactly(int fd, void* data, size_t size, uint64_t offset, const std::string& path) {
    auto* p = static_cast<uint8_t*>(data);
    while (size > 0) {
        const ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw DumpError(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
        if (n == 0) {
            throw DumpError(
                fmt::format("{}: at byte {}: the compacted dump ends too early", path, offset));
        }
        p += n;
        size -= static_cast<size_t>(n);
        offset += static_cast<uint64_t>(n);
    }
}

} // namespace

// Reads the frames of one section in order, each decompressed into content().
class CompactedDump::SectionReader {
public:
    SectionReader(const CompactedDump& dump, const c::Section& section)
        : dump_(dump), offset_(section.offset), end_(section.offset + section.bytes),
          frames_left_(section.frames) {
    }

    // Decompresses the next frame; false after the last one.
    bool next() {
        if (offset_ == end_) {
            if (frames_left_ != 0)
                throw damaged(offset_, "the section has fewer frames than the "
                                       "header says");
            return false;
        }
        if (frames_left_ == 0)
            throw damaged(offset_, "the section has more frames than the "
                                   "header says");
        frame_offset_ = offset_;
        if (end_ - offset_ < sizeof(c::FrameHeader)) {
            throw damaged(offset_, "a frame header runs past the end of its section");
        }
        c::FrameHeader frame{};
        read_exactly(dump_.fd_, &frame, sizeof(frame), offset_, dump_.path_);
        if (frame.content_size == 0 || frame.content_size > c::kMaxFrameContent) {
            throw damaged(offset_, fmt::format("frame content size {} is outside [1, {}]",
                                               frame.content_size, c::kMaxFrameContent));
        }
        if (frame.compressed_size > end_ - offset_ - sizeof(frame)) {
            throw damaged(offset_, fmt::format("the frame's {} compressed bytes run past the end "
                                               "of its section (byte {})",
                                               frame.compressed_size, end_));
        }
        compressed_.resize(frame.compressed_size);
        read_exactly(dump_.fd_, compressed_.data(), compressed_.size(), offset_ + sizeof(frame),
                     dump_.path_);
        const std::string problem =
            decompressor_.decompress(compressed_, frame.content_size, content_);
        if (!problem.empty()) throw damaged(offset_, problem);
        offset_ += sizeof(frame) + frame.compressed_size;
        --frames_left_;
        return true;
    }

    const std::vector<uint8_t>& content() const {
        return content_;
    }
    uint64_t frame_offset() const {
        return frame_offset_;
    }
    uint64_t offset() const {
        return offset_;
    }
    DumpError damaged(uint64_t at, const std::string& what) const {
        return DumpError(
            fmt::format("{}: at byte {}: damaged compacted dump: {}", dump_.path_, at, what));
    }

private:
    const CompactedDump& dump_;
    uint64_t offset_;
    uint64_t end_;
    uint64_t frames_left_;
    uint64_t frame_offset_ = 0;
    ZstdDecompressor decompressor_;
    std::vector<uint8_t> compressed_;
    std::vector<uint8_t> content_;
};

CompactedDump::CompactedDump(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) throw DumpError(fmt::format("cannot open {}: {}", path_, std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd_);
        throw DumpError(fmt::format("{} is not a regular file, so not a dump", path_));
    }
    file_size_ = static_cast<uint64_t>(st.st_size);
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    try {
        const auto damaged = [&](const std::string& what) {
            return DumpError(fmt::format("{}: damaged compacted dump header: {}", path_, what));
        };
        if (file_size_ < c::kHeaderSize) {
            throw DumpError(fmt::format("{}: the compacted dump ends at byte {}, inside its "
                                        "{}-byte header",
                                        path_, file_size_, c::kHeaderSize));
        }
        read_exactly(fd_, &header_, sizeof(header_), 0, path_);
        if (std::memcmp(header_.magic, c::kMagic, sizeof(c::kMagic)) != 0) {
            throw DumpError(fmt::format("{}: not a compacted memtrace dump", path_));
        }
        if (header_.version == 0 || header_.version > c::kVersion) {
            throw DumpError(fmt::format("{}: compacted dump version {} is not one this memtrace "
                                        "reads ({})",
                                        path_, header_.version, c::kVersion));
        }
        if (header_.header_size < c::kHeaderSize) {
            throw damaged(fmt::format("header size {}", header_.header_size));
        }
        const f::FileHeader& raw = header_.raw;
        if (std::memcmp(raw.magic, f::kDumpMagic, sizeof(f::kDumpMagic)) != 0 ||
            raw.format_version == 0 || raw.format_version > f::kFormatVersion ||
            raw.endian_tag != f::kEndianTag ||
            raw.end_reason > static_cast<uint32_t>(f::EndReason::Exec)) {
            throw damaged("the copy of the raw dump's header is not valid");
        }
        for (const auto* section : {&header_.events, &header_.metadata}) {
            const char* name = section == &header_.events ? "events" : "metadata";
            if (section->offset < header_.header_size || section->offset > file_size_ ||
                section->bytes > file_size_ - section->offset) {
                throw DumpError(fmt::format("{}: the compacted dump is cut short or damaged: its "
                                            "{} section ({} bytes at byte {}) runs past the end "
                                            "of the file ({} bytes)",
                                            path_, name, section->bytes, section->offset,
                                            file_size_));
            }
            if (section->frames > section->bytes / sizeof(c::FrameHeader)) {
                throw damaged(fmt::format("{} frames cannot fit in the {} section's {} bytes",
                                          section->frames, name, section->bytes));
            }
        }
        if (header_.version >= c::kVersionSites &&
            (header_.addressed_offset < header_.events.offset + header_.events.bytes ||
             header_.addressed_offset > header_.metadata.offset ||
             header_.addressed_frames >
                 (header_.metadata.offset - header_.addressed_offset) / sizeof(c::FrameHeader))) {
            throw damaged("the addressed section is not between the events and the metadata");
        }
    } catch (...) {
        ::close(fd_);
        throw;
    }
}

CompactedDump::~CompactedDump() {
    ::close(fd_);
}

void CompactedDump::for_each_metadata_record(
    const std::function<void(const Record&, uint32_t)>& visit) const {
    SectionReader frames(*this, header_.metadata);
    Record record;
    uint64_t time_ns = 0;
    while (frames.next()) {
        const std::vector<uint8_t>& content = frames.content();
        const uint8_t* begin = content.data();
        const uint8_t* const end = begin + content.size();
        // Offsets in errors are those of the decompressed frame, which the name says.
        const std::string name = fmt::format("{} (compacted; frame at byte {}, decompressed)",
                                             path_, frames.frame_offset());
        const uint8_t* cursor = begin;
        while (cursor < end) {
            uint64_t thread = 0;
            uint64_t length = 0;
            if (!f::read_varint(&cursor, end, &thread) || !f::read_varint(&cursor, end, &length) ||
                thread > UINT32_MAX || length == 0 ||
                length > static_cast<uint64_t>(end - cursor)) {
                throw frames.damaged(
                    frames.frame_offset(),
                    fmt::format("bad metadata run at byte {} of the frame", cursor - begin));
            }
            ChunkSpan span;
            span.begin = static_cast<uint64_t>(cursor - begin);
            span.end = span.begin + length;
            span.base_time_ns = time_ns;
            span.thread_index = static_cast<uint32_t>(thread);
            RecordDecoder decoder(begin, span, &name);
            while (decoder.next(record)) {
                if (record.kind == f::RecordKind::Alloc || record.kind == f::RecordKind::Free) {
                    throw DumpError(fmt::format("{}: at byte {}: an alloc or free record in the "
                                                "metadata section",
                                                name, record.offset));
                }
                time_ns = record.time_ns;
                visit(record, span.thread_index);
            }
            cursor += length;
        }
    }
}

// Hands batches of decoded events from the decoding thread to the caller's thread, at most
// kBatchesInFlight at a time, so that decompressing and decoding (one core) overlap with what
// the caller does with the events (the other), with bounded memory.
// Decoded events in a buffer of fixed size, filled in place by the decoders.
struct CompactedDump::EventBatch {
    static constexpr size_t kBatchEvents = 32768;

    void reset() {
        count = 0;
    }

    std::vector<HeapEvent> events = std::vector<HeapEvent>(kBatchEvents); // `count` valid
    size_t count = 0;
    uint64_t bytes_read = 0; // of the file, after the frame these events end
};

// Gives a full batch to the consumer, after the check: a batch with an invalid event goes up to
// that event, then the check's error is thrown (on the decoding thread, which passes it on).
void CompactedDump::hand_over(std::unique_ptr<EventBatch> batch, EventBatches& batches,
                              const EventCheck& check) {
    if (check.first_invalid) {
        const size_t bad =
            check.first_invalid(std::span<const HeapEvent>(batch->events.data(), batch->count));
        if (bad != batch->count) {
            const HeapEvent event = batch->events[bad];
            batch->count = bad;
            if (bad != 0) batches.put_full(std::move(batch));
            throw check.error(event);
        }
    }
    batches.put_full(std::move(batch));
}

void CompactedDump::decode_events(EventBatches& batches, const EventCheck& check) const {
    if (header_.version < c::kVersionSites) {
        compact::EventDecoder decoder;
        decode_frames(decoder, batches, check);
        return;
    }
    compact::SiteEventDecoder decoder;
    const c::Section addressed{header_.addressed_offset,
                               header_.metadata.offset - header_.addressed_offset, 0,
                               header_.addressed_frames};
    SectionReader frames(*this, addressed);
    while (frames.next()) {
        const std::string problem = decoder.add_addressed(frames.content());
        if (!problem.empty()) throw frames.damaged(frames.frame_offset(), problem);
    }
    decode_frames(decoder, batches, check);
}

template <typename Decoder>
void CompactedDump::decode_frames(Decoder& decoder, EventBatches& batches,
                                  const EventCheck& check) const {
    SectionReader frames(*this, header_.events);
    uint64_t index = 0;
    std::unique_ptr<EventBatch> batch = batches.take_empty();
    if (batch == nullptr) return;
    while (frames.next()) {
        std::string problem = decoder.start_frame(frames.content());
        while (problem.empty() && !decoder.frame_done()) {
            size_t decoded = 0;
            problem = decoder.decode(batch->events.data() + batch->count,
                                     EventBatch::kBatchEvents - batch->count, decoded, index);
            batch->count += decoded;
            if (batch->count == EventBatch::kBatchEvents) {
                batch->bytes_read = frames.frame_offset();
                hand_over(std::move(batch), batches, check);
                batch = batches.take_empty();
                if (batch == nullptr) return; // the consumer stopped
            }
        }
        if (problem.empty()) problem = decoder.finish_frame();
        if (!problem.empty()) {
            // The events before the damage go first, as a sequential read gives them.
            hand_over(std::move(batch), batches, check);
            throw frames.damaged(frames.frame_offset(), problem);
        }
        batch->bytes_read = frames.offset();
    }
    if (batch->count != 0) hand_over(std::move(batch), batches, check);
    if constexpr (requires { decoder.finish(); }) {
        if (const std::string problem = decoder.finish(); !problem.empty()) {
            throw frames.damaged(frames.offset(), problem);
        }
    }
    check_event_count(index);
    batches.finish(nullptr);
}

void CompactedDump::decode_version_1(EventBatches& batches, const EventCheck& check) const {
    SectionReader frames(*this, header_.events);
    compact::v1::EventDecoder decoder;
    std::vector<HeapEvent> events;
    uint64_t index = 0;
    while (frames.next()) {
        events.clear();
        const std::string problem = decoder.decode(frames.content(), index, events);
        for (size_t done = 0; done < events.size();) {
            std::unique_ptr<EventBatch> batch = batches.take_empty();
            if (batch == nullptr) return;
            const size_t n = std::min(events.size() - done, EventBatch::kBatchEvents);
            std::copy_n(events.begin() + static_cast<ptrdiff_t>(done), n, batch->events.begin());
            batch->count = n;
            done += n;
            batch->bytes_read =
                done == events.size() && problem.empty() ? frames.offset() : frames.frame_offset();
            hand_over(std::move(batch), batches, check);
        }
        if (!problem.empty()) throw frames.damaged(frames.frame_offset(), problem);
    }
    check_event_count(index);
    batches.finish(nullptr);
}

void CompactedDump::check_event_count(uint64_t events) const {
    if (events != header_.event_count) {
        throw DumpError(fmt::format("{}: damaged compacted dump: {} events, its header says {}",
                                    path_, events, header_.event_count));
    }
}

void CompactedDump::for_each_event(const std::function<void(std::span<const HeapEvent>)>& visit,
                                   const std::function<void(uint64_t)>& progress,
                                   const EventCheck& check) const {
    EventBatches batches;
    std::thread decoding([this, &batches, &check] {
        try {
            if (header_.version == 1) {
                decode_version_1(batches, check);
            } else {
                decode_events(batches, check);
            }
        } catch (...) {
            batches.finish(std::current_exception());
        }
    });
    try {
        while (auto batch = batches.take_full()) {
            visit(std::span<const HeapEvent>(batch->events.data(), batch->count));
            if (progress) progress(batch->bytes_read);
            batches.give_back(std::move(batch));
        }
    } catch (...) {
        batches.stop();
        decoding.join();
        throw;
    }
    decoding.join();
    if (const std::exception_ptr error = batches.error()) std::rethrow_exception(error);
}

} // namespace memtrace
