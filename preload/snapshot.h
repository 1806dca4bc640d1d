// Snapshots: a Snapshot record (the heap at that instant, replayed by the reader) followed by
// the process figures taken with it: ProcessMemory, MallocInfo and SizeClassTotals. All four go
// to the calling thread's chunk, so an API snapshot sits exactly between that thread's events.
//
// One lock serializes snapshots (they share the /proc and malloc_info buffers) and doubles as
// the barrier that ends them: once writes are closed (exit, _exit, exec) and the lock has been
// taken once, no thread writes a snapshot record again, so none lands after the dump's end.
#pragma once

#include "memtrace/dump_format.h"

#include <stdint.h>

namespace memtrace::preload {

// Longest label kept; a longer one is cut.
inline constexpr uint32_t kMaxSnapshotLabel = 1024;

// Writes a snapshot from the calling thread, which must be busy. False when nothing was written
// (recording is not on, writes are closed, the disk is full).
bool take_snapshot(format::SnapshotTrigger trigger, const char* label, uint32_t label_length);

// At exit(): closes writes, waits (bounded) for a snapshot in progress on another thread, and
// writes the last one: Snapshot(Exit, "exit"), ProcessMemory, MallocInfo, SizeClassTotals.
// False if recording stopped meanwhile (the disk filled).
bool take_exit_snapshot();

// Between interval snapshots (the sampler): keeps the live block count's peak, which tells how
// long glibc's free lists may have grown (malloc_info_budget.h).
void watch_live_blocks();

// _exit() and exec: no snapshot is written from now on (bounded wait for one in progress).
void close_snapshot_writes();
// exec failed: snapshots resume.
void reopen_snapshot_writes();

// fork(): the prepare handler takes the snapshot lock, so that the child never inherits it (or
// malloc_info's stream) held by a thread that does not exist there.
void snapshot_lock_for_fork();
void snapshot_unlock_after_fork(bool child);

} // namespace memtrace::preload
