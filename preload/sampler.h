// The sampler: every MEMTRACE_INTERVAL it writes an Interval snapshot, and when the snapshot
// signal (MEMTRACE_SNAPSHOT_SIGNAL, SIGUSR2 by default) arrives it writes a Signal snapshot. In
// a program with several threads it is memtrace's one thread in the process, busy for its whole
// life (nothing it allocates is recorded); while the program has one thread, that thread does
// the work from its allocations and frees. The signal handler itself only posts a semaphore
// (async-signal-safe) and moves the deadline to now.
//
// The signal is memtrace's only if the app left it at the default action when memtrace started;
// if the app handles (or ignores) it then, or installs its own handler later (checked on every
// tick), memtrace writes one SnapshotSignalTaken note and never touches the signal again.
#pragma once

#include "hidden.h"

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

// Schedules the sampler's work if the settings need it (an interval, or the signal is ours).
// Called by the library constructor. While the program has one thread (that had events), the
// work is done by that thread from its allocations (sampler_due): glibc skips its arena locks
// while a process has one thread, and a thread of memtrace's would take that away. The thread
// is started by the first allocation recorded after a second thread had its first event
// (sampler_start_soon).
void sampler_schedule_at_load();
// A second thread had its first event: start the thread at the next chance.
void sampler_start_soon();

// fork child: the sampler did not survive the fork. It is scheduled as at load, from the fork.
void sampler_after_fork_in_child(uint64_t now);

// At exit, if the thread never ran: notes a snapshot signal handler the app installed since the
// last allocation that served the sampler's work.
void sampler_at_exit();

// Set until the thread started: the allocation path has the sampler's work to do, from
// g_sampler_due on (UINT64_MAX: nothing; 0: now). Full tracing compares each allocation's time
// with g_sampler_due; sampling mode reads the clock every 16th allocation while pending.
extern MEMTRACE_HIDDEN bool g_sampler_pending;
extern MEMTRACE_HIDDEN uint64_t g_sampler_due;
// On an allocating thread, which is busy: while the program has one thread, the due snapshot,
// watch or signal is served here; once it has more, the thread is started.
[[gnu::cold]] void sampler_due(uint64_t now);

} // namespace memtrace::preload
