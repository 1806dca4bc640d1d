// The reachability scan at orderly exit (docs/design.md, "Leak scan"): which blocks still live
// at exit are definitely lost, indirectly lost (only reachable from lost blocks) or reachable.
// Written to the dump as LeakScan records (a Summary, then Blocks records listing the lost ones).
#pragma once

namespace memtrace::preload {

// Called from the exit handler, on the exiting thread, after the other exit records. Writes a
// Summary (Complete, Skipped or Failed, with a Note saying why not Complete) unless recording
// is off. Never called after a crash or kill: the reader then reports blocks as live.
void leak_scan_at_exit();

} // namespace memtrace::preload
