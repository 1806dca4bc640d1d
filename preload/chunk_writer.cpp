#include "chunk_writer.h"

#include "dump_file.h"

#include <sys/syscall.h>
#include <unistd.h>

namespace memtrace::preload {

constinit uint32_t g_dump_generation = 1;
constinit thread_local ThreadState t_thread __attribute__((tls_model("initial-exec")));

namespace {
constinit uint32_t g_thread_count = 0;
constinit uint32_t g_thread_generation = 0;
} // namespace

bool chunk_refill(ChunkCursor& cursor, uint32_t room, uint64_t now) {
    const uint32_t generation = __atomic_load_n(&g_dump_generation, __ATOMIC_ACQUIRE);
    if (cursor.generation != generation) {
        // First chunk of this thread in this dump: give the thread its number.
        if (__atomic_load_n(&g_thread_generation, __ATOMIC_ACQUIRE) != generation) {
            // Only the fork child gets here with a stale count, and it has a single thread.
            __atomic_store_n(&g_thread_count, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&g_thread_generation, generation, __ATOMIC_RELEASE);
        }
        cursor.thread_index = __atomic_add_fetch(&g_thread_count, 1, __ATOMIC_RELAXED);
    }
    // The thread's full chunk (of this dump: a fork child's inherited cursor is not) is done.
    // Its next one starts no earlier: the reader orders a thread's chunks by time, and an
    // event's time may be a reused one older than the last record's (clock.h, ThreadClock).
    if (cursor.generation == generation && cursor.header) {
        dump_release_chunk(cursor.header);
        if (now < cursor.last_time) now = cursor.last_time;
    }
    const auto tid = static_cast<uint32_t>(syscall(SYS_gettid));
    format::ChunkHeader* chunk = dump_new_chunk(room, cursor.thread_index, tid, now);
    if (!chunk) {
        cursor.header = nullptr;
        cursor.position = cursor.limit = cursor.records = nullptr;
        return false;
    }
    cursor.header = chunk;
    cursor.records = reinterpret_cast<uint8_t*>(chunk + 1);
    cursor.position = cursor.records;
    cursor.limit = reinterpret_cast<uint8_t*>(chunk) + chunk->capacity;
    cursor.last_time = now;
    cursor.last_address = ~uint64_t{0}; // complemented 0, see chunk_address_delta
    cursor.generation = generation;
    return true;
}

} // namespace memtrace::preload
