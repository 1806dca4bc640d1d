// The dump file: created at start (and again in a fork child), mapped MAP_SHARED so that what is
// written is in the kernel's page cache at once and survives SIGKILL. The file grows by
// segments reserved with posix_fallocate, so a full disk is an error code here, never a SIGBUS
// in the app; each segment is mapped on its own. A chunk its thread has filled is dropped from
// the mapping (its pages stay in the page cache and the file), and a segment none of whose
// chunks is still being written is unmapped, so the process's RSS does not grow with the dump.
#pragma once

#include "memtrace/dump_format.h"

#include <stdint.h>

namespace memtrace::preload {

// Creates the dump named by the options' template for this pid. Returns false (with errno-style
// code in *error) when the file cannot be created or mapped. fork_child marks the header.
bool dump_create(bool fork_child, int* error);

// Abandons the inherited mapping in a fork child (the parent still owns that file).
void dump_forget_after_fork();

// A new chunk of at least min_bytes of record space, its header written and the file's data_end
// advanced past it. nullptr when the disk is full or a limit was reached (flags say which).
format::ChunkHeader* dump_new_chunk(uint32_t min_bytes, uint32_t thread_index, uint32_t os_tid,
                                    uint64_t now);

// The calling thread is done with this chunk (it took a new one): its pages leave the process's
// RSS, and its segment is unmapped once no chunk in it is open. Slow path only.
void dump_release_chunk(format::ChunkHeader* chunk);

format::FileHeader* dump_header();
const char* dump_path();
// The dump's descriptor (-1 when there is no dump), for the leak scan that reads the dump back.
int dump_fd();

// False in a vfork() child, which shares the parent's memory (and dump) but is another process.
bool dump_is_ours();

void dump_set_flag(uint32_t flag);
// Writes the end fields of the header; async-signal-safe.
void dump_set_end(format::EndReason reason, int exit_code, int signal, bool clean);
// Takes back dump_set_end (an execve that failed).
void dump_clear_end();

// The fork() handlers take and release the lock that guards growing the file.
void dump_lock_for_fork();
void dump_unlock_after_fork();

} // namespace memtrace::preload
