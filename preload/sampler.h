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

// Starts the thread if the settings need one (an interval, or the signal is ours). Called by the
// library constructor; if initialization is still under way on another thread, the thread is
// started by the first allocation recorded after it.
void sampler_start_at_load();

// fork child: the sampler did not survive the fork. A new one is started by the first
// allocation recorded in the child at least one interval (or 1 s) after the fork, so that a
// child that execs or exits soon after fork() never gets a thread.
void sampler_after_fork_in_child(uint64_t now);

// Set while a delayed start is pending; record_alloc tests it (one load of a global).
extern bool g_sampler_start_pending;
[[gnu::cold]] void sampler_start_if_due(uint64_t now);

} // namespace memtrace::preload
