// Hands batches of decoded events from a decoding thread to the thread that consumes them, at
// most kBatchesInFlight at a time, so that decoding a dump (one core) overlaps with replaying
// it (the other) with bounded memory. Batches are recycled: no allocation per batch once the
// pipeline is full.
#pragma once

#include "dump_reader.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

namespace memtrace {

// Batch: default-constructible, made ready for its events by its constructor, with reset()
// making it empty again for reuse.
template <typename Batch> class BatchQueue {
public:
    static constexpr size_t kBatchesInFlight = 4;

    // Producer: an empty batch to fill, or nullptr once the consumer has stopped.
    std::unique_ptr<Batch> take_empty() {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stopped_ || full_.size() < kBatchesInFlight; });
        if (stopped_) return nullptr;
        if (empty_.empty()) return std::make_unique<Batch>();
        auto batch = std::move(empty_.back());
        empty_.pop_back();
        return batch;
    }
    void put_full(std::unique_ptr<Batch> batch) {
        std::lock_guard lock(mutex_);
        full_.push_back(std::move(batch));
        changed_.notify_all();
    }
    // Producer: no more batches; `error` set if decoding failed (after the batches before it).
    void finish(std::exception_ptr error) {
        std::lock_guard lock(mutex_);
        finished_ = true;
        error_ = std::move(error);
        changed_.notify_all();
    }

    // Consumer: the next full batch, or nullptr at the end (then error() says whether the
    // producer failed).
    std::unique_ptr<Batch> take_full() {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return finished_ || !full_.empty(); });
        if (full_.empty()) return nullptr;
        auto batch = std::move(full_.front());
        full_.pop_front();
        changed_.notify_all();
        return batch;
    }
    void give_back(std::unique_ptr<Batch> batch) {
        batch->reset();
        std::lock_guard lock(mutex_);
        empty_.push_back(std::move(batch));
    }
    // Consumer: stop the producer (the consumer failed).
    void stop() {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        changed_.notify_all();
    }
    std::exception_ptr error() {
        std::lock_guard lock(mutex_);
        return error_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<std::unique_ptr<Batch>> full_;
    std::vector<std::unique_ptr<Batch>> empty_;
    bool finished_ = false;
    bool stopped_ = false;
    std::exception_ptr error_;
};

// Decoded events, as many as the producer put in.
struct EventBatch {
    static constexpr size_t kBatchEvents = 32768;

    EventBatch() {
        events.reserve(kBatchEvents);
    }
    void reset() {
        events.clear();
        progress = 0;
    }

    std::vector<HeapEvent> events;
    uint64_t progress = 0; // how far the decoder had read, for progress reports
};

using EventBatchQueue = BatchQueue<EventBatch>;

} // namespace memtrace
