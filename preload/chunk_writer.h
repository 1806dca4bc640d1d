// Appending records to the calling thread's chunk. A record is encoded straight into the mapped
// file and then published by advancing the chunk's `committed` count, so a reader (or a dump
// left by SIGKILL) sees only whole records. No lock and no syscall except when a chunk is full.
#pragma once

#include "hidden.h"
#include "thread_state.h"

#include <stdint.h>

namespace memtrace::preload {

// Bumped in a fork child so every thread's cursor (only the forking thread survives) is stale.
extern MEMTRACE_HIDDEN uint32_t g_dump_generation;

// Slow path: takes a new chunk with room for `room` bytes. False when recording has stopped.
[[gnu::cold]] bool chunk_refill(ChunkCursor& cursor, uint32_t room, uint64_t now);

// Room for `room` bytes of record in the current chunk, or nullptr if recording has stopped.
inline uint8_t* chunk_reserve(ChunkCursor& cursor, uint32_t room, uint64_t now) {
    if (__builtin_expect(cursor.generation !=
                                 __atomic_load_n(&g_dump_generation, __ATOMIC_RELAXED) ||
                             static_cast<uint32_t>(cursor.limit - cursor.position) < room,
                         0)) {
        if (!chunk_refill(cursor, room, now)) return nullptr;
    }
    return cursor.position;
}

// Nanoseconds since the previous record of this chunk; never negative.
inline uint64_t chunk_time_delta(ChunkCursor& cursor, uint64_t now) {
    if (now < cursor.last_time) now = cursor.last_time;
    const uint64_t delta = now - cursor.last_time;
    cursor.last_time = now;
    return delta;
}

// The cursor keeps the previous address complemented: a plain heap address in every thread's TLS
// would keep that block reachable for the leak scan at exit (which scans TLS as a root).
inline int64_t chunk_address_delta(ChunkCursor& cursor, uint64_t address) {
    const int64_t delta = static_cast<int64_t>(address - ~cursor.last_address);
    cursor.last_address = ~address;
    return delta;
}

inline void chunk_commit(ChunkCursor& cursor, uint8_t* end) {
    cursor.position = end;
    __atomic_store_n(&cursor.header->committed, static_cast<uint32_t>(end - cursor.records),
                     __ATOMIC_RELEASE);
}

} // namespace memtrace::preload
