// The sampler: memtrace's one thread in the traced process. Every MEMTRACE_INTERVAL it writes an
// Interval snapshot, and when the snapshot signal (MEMTRACE_SNAPSHOT_SIGNAL, SIGUSR2 by default)
// arrives it writes a Signal snapshot. The signal handler itself only wakes the thread (sem_post
// is async-signal-safe); everything else happens on the thread, which is busy for its whole
// life, so nothing it allocates is recorded.
//
// The signal is memtrace's only if the app left it at the default action when memtrace started;
// if the app handles (or ignores) it then, or installs its own handler later (checked on every
// tick), memtrace writes one SnapshotSignalTaken note and never touches the signal again.
#pragma once

#include <stdint.h>

namespace memtrace::preload {

// During initialization, before the dump is created: installs the handler if the signal is free.
void snapshot_signal_setup();
// Initialization failed (no dump): gives the signal back to its default action.
void snapshot_signal_release();
// The signal memtrace's handler serves (for the dump header), 0 when none.
int snapshot_signal_in_force();
// Once a dump exists (at start, and in a fork child): writes the note if the app has the signal.
void snapshot_signal_note_if_taken(uint64_t now);

// Schedules the thread if the settings need one (an interval, or the signal is ours). Called by
// the library constructor. The thread is started by an allocation: the first one recorded once
// the first interval snapshot is due, or once a second thread of the program has had an event,
// or once the snapshot signal came (sampler_start_soon). Until then the program has no thread
// of memtrace's: glibc skips its arena locks while a process has one thread. If initialization
// is still under way on another thread, the first allocation recorded after it starts it.
void sampler_start_at_load();
// A second thread had its first event, or the snapshot signal came: start at the next chance.
void sampler_start_soon();

// fork child: the sampler did not survive the fork. It is scheduled as at load, from the fork.
void sampler_after_fork_in_child(uint64_t now);

// At exit, if the thread never ran: notes a snapshot signal handler the app installed meanwhile
// (the thread would have noticed it on a tick).
void sampler_at_exit();

// Set while a delayed start is pending; record_alloc tests it (one load of a global).
extern bool g_sampler_start_pending;
[[gnu::cold]] void sampler_start_if_due(uint64_t now);

} // namespace memtrace::preload
