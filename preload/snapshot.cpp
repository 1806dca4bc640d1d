#include "snapshot.h"

#include "chunk_writer.h"
#include "clock.h"
#include "malloc_info_budget.h"
#include "malloc_info_text.h"
#include "memtrace/record_encoding.h"
#include "proc_status.h"
#include "recorder.h"
#include "size_class_counters.h"

#include <pthread.h>
#include <time.h>

namespace memtrace::preload {
namespace {

// A pthread mutex rather than a spin lock: malloc_info() may hold it for a millisecond or more
// (it takes every arena's lock in turn), and waiters should sleep, not spin.
constinit pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
constinit bool g_closed = false; // read and written under g_lock

// How long the end of the process waits for a snapshot in progress on another thread. Only a
// deadlock could make it longer (exit() called from a signal handler that interrupted
// malloc_info's thread holding an arena lock): better a dump without its last snapshot.
constexpr uint64_t kCloseWaitNs = 1000000000;

bool lock_with_timeout(uint64_t timeout_ns) {
    timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    const uint64_t ns = static_cast<uint64_t>(deadline.tv_nsec) + timeout_ns;
    deadline.tv_sec += static_cast<time_t>(ns / 1000000000);
    deadline.tv_nsec = static_cast<long>(ns % 1000000000);
    return pthread_mutex_clocklock(&g_lock, CLOCK_MONOTONIC, &deadline) == 0;
}

constinit MallocInfoBudget g_malloc_info_budget; // under g_lock

// Every thread's size-class counters, summed once per snapshot (or watch) under g_lock.
constinit format::SizeClassCounts g_sums[format::kSizeClassCount] = {};

// The process's live blocks: every thread's allocations minus its frees.
uint64_t live_blocks(const format::SizeClassCounts* sums) {
    uint64_t allocs = 0, frees = 0;
    for (uint32_t i = 0; i < format::kSizeClassCount; ++i) {
        allocs += sums[i].count;
        frees += sums[i].free_count;
    }
    return allocs > frees ? allocs - frees : 0;
}

const char* timed_malloc_info(format::SnapshotTrigger trigger, uint64_t live, uint32_t* length) {
    *length = 0;
    const uint64_t started = monotonic_ns();
    if (trigger == format::SnapshotTrigger::Interval && !g_malloc_info_budget.due(started, live))
        return nullptr;
    const char* xml = capture_malloc_info(length);
    g_malloc_info_budget.spent(started, live, monotonic_ns() - started);
    return xml;
}

bool recording() {
    return __atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == static_cast<int>(State::Ready);
}

bool write_snapshot_mark(uint64_t now, format::SnapshotTrigger trigger, const char* label,
                         uint32_t label_length) {
    ChunkCursor& cursor = t_thread.cursor;
    uint8_t* out = chunk_reserve(
        cursor, static_cast<uint32_t>(format::snapshot_record_size(label_length)), now);
    if (!out) return false;
    out = format::encode_snapshot(out, chunk_time_delta(cursor, now), trigger, label, label_length);
    chunk_commit(cursor, out);
    return true;
}

// ProcessMemory, MallocInfo (when due) and SizeClassTotals, all stamped `now` (the snapshot's
// time).
bool write_process_figures(uint64_t now, format::SnapshotTrigger trigger) {
    ChunkCursor& cursor = t_thread.cursor;
    sum_size_classes(g_sums);
    format::ProcessMemory memory;
    if (read_process_memory(&memory)) {
        uint8_t* out = chunk_reserve(cursor, format::kMaxProcessMemoryRecord, now);
        if (!out) return false;
        out = format::encode_process_memory(out, chunk_time_delta(cursor, now), memory);
        chunk_commit(cursor, out);
    }
    uint32_t xml_length = 0;
    if (const char* xml = timed_malloc_info(trigger, live_blocks(g_sums), &xml_length)) {
        uint8_t* out = chunk_reserve(
            cursor, static_cast<uint32_t>(format::malloc_info_record_size(xml_length)), now);
        if (!out) return false;
        out = format::encode_malloc_info(out, chunk_time_delta(cursor, now), xml, xml_length);
        chunk_commit(cursor, out);
    }
    return emit_size_class_totals(now, g_sums);
}

} // namespace

bool take_snapshot(format::SnapshotTrigger trigger, const char* label, uint32_t label_length) {
    if (!recording()) return false;
    if (label_length > kMaxSnapshotLabel) label_length = kMaxSnapshotLabel;
    pthread_mutex_lock(&g_lock);
    bool written = false;
    if (!__atomic_load_n(&g_closed, __ATOMIC_ACQUIRE) && recording()) {
        // The snapshot's time is taken first: the figures describe the moment just after it.
        const uint64_t now = record_time_ns();
        written = write_snapshot_mark(now, trigger, label, label_length) &&
                  write_process_figures(now, trigger);
    }
    pthread_mutex_unlock(&g_lock);
    return written;
}

void watch_live_blocks() {
    if (!recording() || pthread_mutex_trylock(&g_lock) != 0) return; // a snapshot is being taken
    sum_size_classes(g_sums);
    g_malloc_info_budget.observe(monotonic_ns(), live_blocks(g_sums));
    pthread_mutex_unlock(&g_lock);
}

bool take_exit_snapshot() {
    const bool locked = lock_with_timeout(kCloseWaitNs);
    __atomic_store_n(&g_closed, true, __ATOMIC_RELEASE);
    const uint64_t now = record_time_ns();
    static constexpr char kLabel[] = "exit";
    bool written =
        write_snapshot_mark(now, format::SnapshotTrigger::Exit, kLabel, sizeof(kLabel) - 1);
    if (locked) {
        written = written && write_process_figures(now, format::SnapshotTrigger::Exit);
        pthread_mutex_unlock(&g_lock);
    } else {
        // Another thread is stuck inside a snapshot (see kCloseWaitNs) and owns the /proc and
        // malloc_info buffers: the exit snapshot goes without those two figures.
        written = written && emit_size_class_totals(now);
    }
    return written;
}

void close_snapshot_writes() {
    const bool locked = lock_with_timeout(kCloseWaitNs);
    __atomic_store_n(&g_closed, true, __ATOMIC_RELEASE);
    if (locked) pthread_mutex_unlock(&g_lock);
}

void reopen_snapshot_writes() {
    pthread_mutex_lock(&g_lock);
    g_closed = false;
    pthread_mutex_unlock(&g_lock);
}

void snapshot_lock_for_fork() {
    pthread_mutex_lock(&g_lock);
}

void snapshot_unlock_after_fork(bool child) {
    // The child has a dump of its own, open for snapshots whatever the parent was doing.
    if (child) g_closed = false;
    pthread_mutex_unlock(&g_lock);
}

} // namespace memtrace::preload
