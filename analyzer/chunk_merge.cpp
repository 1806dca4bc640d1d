#include "chunk_merge.h"

#include "dump_error.h"

#include <algorithm>
#include <cstring>
#include <spdlog/fmt/fmt.h>

namespace memtrace {
namespace {

namespace f = memtrace::format;
constexpr uint64_t kChunkHeaderSize = sizeof(f::ChunkHeader);

bool is_event(f::RecordKind kind) {
    return kind == f::RecordKind::Alloc || kind == f::RecordKind::Free;
}

} // namespace

ChunkSpan read_chunk(const uint8_t* file, uint64_t file_size, uint64_t data_end, uint64_t offset,
                     const std::string& path, uint64_t* capacity) {
    f::ChunkHeader chunk;
    std::memcpy(&chunk, file + offset, sizeof(chunk));
    return check_chunk(chunk, file_size, data_end, offset, path, capacity);
}

ChunkSpan check_chunk(const format::ChunkHeader& chunk, uint64_t file_size, uint64_t data_end,
                      uint64_t offset, const std::string& path, uint64_t* capacity) {
    const auto bad_chunk = [&](const std::string& what) {
        return DumpError(fmt::format("{}: at byte {}: bad chunk header: {}", path, offset, what));
    };
    if (chunk.magic != f::kChunkMagic) {
        throw bad_chunk(
            fmt::format("magic 0x{:08x}, expected 0x{:08x}", chunk.magic, f::kChunkMagic));
    }
    if (chunk.capacity < kChunkHeaderSize || chunk.capacity > f::kMaxChunkSize) {
        throw bad_chunk(fmt::format("capacity {} is outside [{}, {}]", chunk.capacity,
                                    kChunkHeaderSize, f::kMaxChunkSize));
    }
    if (chunk.committed > chunk.capacity - kChunkHeaderSize) {
        throw bad_chunk(fmt::format("{} bytes committed, more than its capacity {} holds",
                                    chunk.committed, chunk.capacity));
    }
    if (offset + chunk.capacity > data_end) {
        throw bad_chunk(
            fmt::format("its capacity {} runs past data_end ({})", chunk.capacity, data_end));
    }
    ChunkSpan span;
    span.header_offset = offset;
    span.begin = offset + kChunkHeaderSize;
    span.end = span.begin + chunk.committed;
    if (span.end > file_size) {
        span.end = file_size;
        span.cut_short = true;
    }
    span.base_time_ns = chunk.base_time_ns;
    span.thread_index = chunk.thread_index;
    *capacity = chunk.capacity;
    return span;
}

std::vector<ChunkSpan> list_chunks(const MappedFile& file, const format::FileHeader& header,
                                   const std::string& path) {
    const uint64_t limit = std::min<uint64_t>(header.data_end, file.size());
    std::vector<ChunkSpan> spans;
    uint64_t offset = header.header_size;
    while (offset < limit && limit - offset >= kChunkHeaderSize) {
        uint64_t capacity = 0;
        const ChunkSpan span =
            read_chunk(file.bytes().data(), file.size(), header.data_end, offset, path, &capacity);
        if (span.end > span.begin || span.cut_short) spans.push_back(span);
        // Touching the header mapped the pages around it (the kernel maps ahead on a fault);
        // none is needed until the merge reaches this chunk.
        file.release(offset, offset + capacity);
        offset += capacity;
    }
    return spans;
}

ChunkMerge::ChunkMerge(const MappedFile& file, std::vector<ChunkSpan> spans,
                       const std::string* path, Filter filter)
    : file_(file), spans_(std::move(spans)), path_(path), filter_(filter),
      slot_of_(spans_.size(), 0), started_(spans_.size(), false) {
    std::vector<Entry> entries;
    entries.reserve(spans_.size());
    for (size_t i = 0; i < spans_.size(); ++i)
        entries.push_back({spans_[i].base_time_ns, i});
    queue_ = decltype(queue_)(std::greater<>(), std::move(entries));
}

bool ChunkMerge::advance(size_t slot) {
    Active& active = active_[slot];
    while (active.decoder.next(active.pending)) {
        if (filter_ == Filter::EventsOnly && !is_event(active.pending.kind)) continue;
        active.pending_end = active.decoder.position();
        return true;
    }
    return false;
}

void ChunkMerge::finish(size_t chunk, size_t slot) {
    const ChunkSpan& span = spans_[chunk];
    bytes_done_ += span.end - span.begin;
    file_.release(span.header_offset, span.end);
    free_slots_.push_back(slot);
}

void ChunkMerge::hand_over(Active& active, Record& record) {
    if (is_event(active.pending.kind)) {
        // An event has no vector or string: copying its fields is cheaper than a swap.
        record.kind = active.pending.kind;
        record.sub_kind = active.pending.sub_kind;
        record.offset = active.pending.offset;
        record.time_ns = active.pending.time_ns;
        record.address = active.pending.address;
        record.size = active.pending.size;
        record.stack_id = active.pending.stack_id;
        return;
    }
    // Hand the record over by swapping, so that a stack's frame vector is not copied.
    std::swap(record, active.pending);
}

bool ChunkMerge::next(Record& record, size_t& chunk, uint64_t& end) {
    // The chunk of the last record stays out of the queue while its next record still comes
    // before every queued one (the usual case: one thread writes for a while), which saves a
    // pop and a push per record. The order is the queue's: (time, chunk).
    if (current_ != kNone) {
        const size_t i = current_;
        Active& active = active_[slot_of_[i]];
        const Entry mine{active.pending.time_ns, i};
        if (queue_.empty() || queue_.top() > mine) {
            hand_over(active, record);
            end = active.pending_end;
            chunk = i;
            if (!advance(slot_of_[i])) {
                finish(i, slot_of_[i]);
                current_ = kNone;
            }
            return true;
        }
        queue_.push(mine);
        current_ = kNone;
    }
    while (!queue_.empty()) {
        const Entry top = queue_.top();
        queue_.pop();
        const size_t i = top.chunk;
        if (!started_[i]) {
            started_[i] = true;
            size_t slot;
            if (!free_slots_.empty()) {
                slot = free_slots_.back();
                free_slots_.pop_back();
                active_[slot].decoder = RecordDecoder(file_.bytes().data(), spans_[i], path_);
            } else {
                slot = active_.size();
                active_.push_back({RecordDecoder(file_.bytes().data(), spans_[i], path_), {}, 0});
            }
            slot_of_[i] = slot;
            if (advance(slot)) {
                queue_.push({active_[slot].pending.time_ns, i});
            } else {
                finish(i, slot);
            }
            continue;
        }
        const size_t slot = slot_of_[i];
        Active& active = active_[slot];
        hand_over(active, record);
        end = active.pending_end;
        chunk = i;
        if (advance(slot)) {
            current_ = i;
        } else {
            finish(i, slot);
        }
        return true;
    }
    return false;
}

} // namespace memtrace
