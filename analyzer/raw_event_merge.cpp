#include "raw_event_merge.h"

#include "dump_error.h"

#include <algorithm>
#include <spdlog/fmt/fmt.h>

namespace memtrace {

RawEventMerge::RawEventMerge(const MappedFile& file, std::vector<ChunkSpan> spans,
                             const std::string* path)
    : file_(file), spans_(std::move(spans)), path_(path) {
    if (spans_.size() > UINT32_MAX) {
        throw DumpError(fmt::format("{}: {} chunks hold events, more than memtrace reads", *path_,
                                    spans_.size()));
    }
    by_base_time_.resize(spans_.size());
    for (size_t i = 0; i < spans_.size(); ++i)
        by_base_time_[i] = static_cast<uint32_t>(i);
    std::stable_sort(by_base_time_.begin(), by_base_time_.end(), [this](uint32_t a, uint32_t b) {
        return spans_[a].base_time_ns < spans_[b].base_time_ns;
    });
}

bool RawEventMerge::refill(Source& source) {
    const ChunkSpan& span = spans_[source.chunk];
    source.next = 0;
    source.count = source.decoder.next_events(source.events.data(), source.events.size(),
                                              span.thread_index, scratch_);
    return source.count != 0;
}

void RawEventMerge::start(size_t chunk) {
    uint32_t slot;
    if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
        sources_[slot].decoder = RecordDecoder(file_.bytes().data(), spans_[chunk], path_);
    } else {
        slot = static_cast<uint32_t>(sources_.size());
        sources_.push_back({RecordDecoder(file_.bytes().data(), spans_[chunk], path_), 0, 0, 0,
                            std::vector<HeapEvent>(kBufferedEvents)});
    }
    Source& source = sources_[slot];
    source.chunk = chunk;
    heap_.push_back({0, static_cast<uint32_t>(chunk), slot});
    if (!refill(source)) {
        // No event after all (the first pass lists only chunks with events; kept for safety).
        std::swap(heap_.front(), heap_.back());
        finish_top();
        return;
    }
    // Sift the new entry up to its place.
    size_t i = heap_.size() - 1;
    heap_[i].time = source.events[0].time_ns;
    const Key entry = heap_[i];
    while (i > 0) {
        const size_t parent = (i - 1) / 2;
        if (!entry.before(heap_[parent])) break;
        heap_[i] = heap_[parent];
        i = parent;
    }
    heap_[i] = entry;
}

void RawEventMerge::finish_top() {
    const Key top = heap_.front();
    const ChunkSpan& span = spans_[top.chunk];
    bytes_done_ += span.end - span.begin;
    file_.release(span.header_offset, span.end);
    free_slots_.push_back(top.slot);
    heap_.front() = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) sift_down(0);
}

void RawEventMerge::sift_down(size_t i) {
    const size_t size = heap_.size();
    const Key entry = heap_[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= size) break;
        if (child + 1 < size && heap_[child + 1].before(heap_[child])) ++child;
        if (!heap_[child].before(entry)) break;
        heap_[i] = heap_[child];
        i = child;
    }
    heap_[i] = entry;
}

bool RawEventMerge::fill(std::vector<HeapEvent>& out, size_t max) {
    const size_t at_start = out.size();
    while (out.size() < max) {
        // A chunk whose base time comes before every started chunk's next event may hold the
        // next event: start it first (its base time is a lower bound of its events' times).
        if (started_ < by_base_time_.size()) {
            const uint32_t chunk = by_base_time_[started_];
            const Key pending{spans_[chunk].base_time_ns, chunk, 0};
            if (heap_.empty() || pending.before(heap_.front())) {
                ++started_;
                start(chunk);
                continue;
            }
        }
        if (heap_.empty()) break;
        // The events of the top chunk go out as long as they come before the second-smallest
        // key (a child of the top) and before the next chunk to start.
        Key limit{UINT64_MAX, UINT32_MAX, 0};
        if (heap_.size() > 1) limit = heap_[1];
        if (heap_.size() > 2 && heap_[2].before(limit)) limit = heap_[2];
        if (started_ < by_base_time_.size()) {
            const uint32_t chunk = by_base_time_[started_];
            const Key pending{spans_[chunk].base_time_ns, chunk, 0};
            if (pending.before(limit)) limit = pending;
        }
        Key& top = heap_.front();
        Source& source = sources_[top.slot];
        for (;;) {
            out.push_back(source.events[source.next++]);
            if (source.next == source.count && !refill(source)) {
                finish_top();
                break;
            }
            top.time = source.events[source.next].time_ns;
            if (!top.before(limit)) {
                sift_down(0);
                break;
            }
            if (out.size() == max) break;
        }
    }
    return out.size() != at_start;
}

} // namespace memtrace
