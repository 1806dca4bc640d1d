// What the hooks call: initialization (an explicit state machine) and the recording of events.
//
// States, and what a hook does in each:
//   Uninitialized  the first hook (or the library constructor) starts initialization.
//   Initializing   one thread is setting up; hooks on any thread pass through unrecorded
//                  (served by the bootstrap arena until the real allocator is known).
//   Ready          hooks record, unless the thread is already inside memtrace (busy).
//   Stopped        recording ended (dump could not be created, disk full): pass through.
#pragma once

#include "memtrace/dump_format.h"
#include "thread_state.h"

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

enum class State : int { Uninitialized = 0, Initializing = 1, Ready = 2, Stopped = 3 };

extern int g_state;

[[gnu::cold]] void initialize();

// Whether this call should be recorded; starts initialization on the very first call.
inline bool should_record() {
    const int state = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
    if (__builtin_expect(state != static_cast<int>(State::Ready), 0)) {
        if (state != static_cast<int>(State::Uninitialized)) return false;
        initialize();
        if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != static_cast<int>(State::Ready))
            return false;
    }
    return !t_thread.busy;
}

uint64_t now_for_free();
void record_alloc(void* p, size_t size, format::AllocFunction function);
// `time` is when the caller sampled the clock, before the block went back to the allocator.
void record_free(void* p, uint64_t time);

void on_dlopen_or_dlclose();
void on_quick_exit(int status);
// Around execve: the dump ends with Exec if the call succeeds; undone if it returns.
void on_exec_attempt();
void on_exec_failed();

} // namespace memtrace::preload
