#include "recorder.h"

#include "chunk_writer.h"
#include "clock.h"
#include "dump_file.h"
#include "memtrace/record_encoding.h"
#include "module_map.h"
#include "options.h"
#include "process_facts.h"
#include "real_functions.h"
#include "sampler.h"
#include "signals.h"
#include "size_class_counters.h"
#include "snapshot.h"
#include "stack_table.h"
#include "unwinder.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace memtrace::preload {

constinit int g_state = static_cast<int>(State::Uninitialized);

namespace {

// 4M slots: up to 3M distinct stacks; only the pages touched cost memory.
constexpr unsigned kStackTableLog2 = 22;

constinit StackTable g_stacks;

void set_state(State state) {
    __atomic_store_n(&g_state, static_cast<int>(state), __ATOMIC_RELEASE);
}

// One line on stderr, for the rare failures that stop tracing (never per event).
void diagnose(const char* what, const char* detail, int error) {
    char line[kPathMax + 256];
    size_t length = 0;
    auto add = [&](const char* text) {
        const size_t n = strnlen(text, sizeof(line) - 2 - length);
        memcpy(line + length, text, n);
        length += n;
    };
    add("memtrace: ");
    add(what);
    if (detail && *detail) {
        add(" ");
        add(detail);
    }
    if (error) {
        add(": ");
        add(strerrordesc_np(error) ? strerrordesc_np(error) : "error");
    }
    add("; tracing is off, the program runs on\n");
    ssize_t ignored = write(STDERR_FILENO, line, length);
    (void)ignored;
}

void stop_recording() {
    if (__atomic_exchange_n(&g_state, static_cast<int>(State::Stopped), __ATOMIC_ACQ_REL) ==
        static_cast<int>(State::Ready)) {
        const format::FileHeader* header = dump_header();
        const bool out_of_space = header && (header->flags & format::kFlagOutOfSpace);
        diagnose(out_of_space ? "the disk is full; the dump ends here:"
                              : "recording stopped; the dump ends here:",
                 dump_path(), 0);
    }
}

bool emit_stack(uint32_t id, const uint64_t* frames, uint32_t depth, bool truncated) {
    ChunkCursor& cursor = t_thread.cursor;
    const uint64_t now = t_thread.event_time;
    uint8_t* out = chunk_reserve(cursor, format::kMaxStackRecord, now);
    if (!out) return false;
    out = format::encode_stack(out, chunk_time_delta(cursor, now), id, frames, depth, truncated);
    chunk_commit(cursor, out);
    return true;
}

// Writes what every dump starts with. False if the dump could not be created.
bool start_dump(bool fork_child) {
    int error = 0;
    if (!dump_create(fork_child, &error)) {
        diagnose("cannot create the dump", options().output_template, error);
        return false;
    }
    const uint64_t now = event_time_ns();
    write_process_info(now);
    module_map_rescan(now);
    snapshot_signal_note_if_taken(now);
    return true;
}

void on_process_exit(int status, void*) {
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == static_cast<int>(State::Ready) &&
        dump_is_ours()) {
        BusyScope busy;
        if (!take_exit_snapshot()) stop_recording();
    }
    dump_set_end(format::EndReason::Exit, status, 0, true);
}

void before_fork() {
    snapshot_lock_for_fork(); // first: a snapshot in progress may need the growth lock
    dump_lock_for_fork();
    module_map_lock_for_fork();
}

void after_fork_in_parent() {
    module_map_unlock_after_fork();
    dump_unlock_after_fork();
    snapshot_unlock_after_fork(false);
}

// The child gets a dump of its own: the parent's file, stacks and modules are not its to write.
void after_fork_in_child() {
    snapshot_unlock_after_fork(true);
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != static_cast<int>(State::Ready)) return;
    BusyScope busy;
    dump_forget_after_fork();
    module_map_reset();
    g_stacks.clear();
    size_class_counters_reset_after_fork(t_thread.size_classes);
    __atomic_add_fetch(&g_dump_generation, 1, __ATOMIC_RELEASE);
    if (!start_dump(true)) {
        set_state(State::Stopped);
        return;
    }
    sampler_after_fork_in_child(event_time_ns());
}

} // namespace

void initialize() {
    int expected = static_cast<int>(State::Uninitialized);
    if (!__atomic_compare_exchange_n(&g_state, &expected, static_cast<int>(State::Initializing),
                                     false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        return; // another thread is initializing, or it is done
    }
    BusyScope busy;
    event_clock_start_calibration();
    if (!resolve_real_functions()) {
        diagnose("cannot find the real malloc/free", nullptr, 0);
        set_state(State::Stopped);
        return;
    }
    read_options();
    unwinder_init();
    if (!g_stacks.init(kStackTableLog2)) {
        diagnose("cannot reserve memory for the stack table", nullptr, 0);
        set_state(State::Stopped);
        return;
    }
    size_class_counters_init();
    snapshot_signal_setup(); // before the dump: its header says whether the signal is ours
    if (!start_dump(false)) {
        snapshot_signal_release();
        set_state(State::Stopped);
        return;
    }
    install_fatal_signal_handlers();
    on_exit(on_process_exit, nullptr);
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
    event_clock_finish_calibration();
    set_state(State::Ready);
}

uint64_t now_for_free() {
    return ordered_event_time_ns();
}

namespace {

inline SizeClassBlock* thread_size_classes() {
    SizeClassBlock* block = t_thread.size_classes;
    return __builtin_expect(block != nullptr, 1) ? block : size_class_block_slow();
}

} // namespace

void record_alloc(void* p, size_t size, format::AllocFunction function) {
    ThreadState& thread = t_thread;
    thread.busy = true;
    if (SizeClassBlock* counters = thread_size_classes())
        count_alloc(counters, size, g_real.malloc_usable_size(p));
    bool truncated = false;
    const uint32_t depth = capture_stack(thread.frames, options().depth, &truncated);
    // Sampled after unwinding: by then the allocator's loads that found this block are long
    // complete, so the unserialized TSC read cannot precede the free that released the block.
    const uint64_t now = event_time_ns();
    thread.event_time = now;
    const uint32_t stack_id =
        depth ? g_stacks.intern(thread.frames, depth, truncated, emit_stack).id : format::kNoStack;
    ChunkCursor& cursor = thread.cursor;
    uint8_t* out = chunk_reserve(cursor, format::kMaxAllocRecord, now);
    if (out) {
        out = format::encode_alloc(out, chunk_time_delta(cursor, now),
                                   chunk_address_delta(cursor, reinterpret_cast<uint64_t>(p)), size,
                                   stack_id, function);
        chunk_commit(cursor, out);
    } else {
        stop_recording();
    }
    if (__builtin_expect(__atomic_load_n(&g_sampler_start_pending, __ATOMIC_RELAXED), 0))
        sampler_start_if_due(now);
    thread.busy = false;
}

void record_free(void* p, uint64_t time) {
    ThreadState& thread = t_thread;
    thread.busy = true;
    if (SizeClassBlock* counters = thread_size_classes())
        count_free(counters, g_real.malloc_usable_size(p));
    ChunkCursor& cursor = thread.cursor;
    uint8_t* out = chunk_reserve(cursor, format::kMaxFreeRecord, time);
    if (out) {
        out = format::encode_free(out, chunk_time_delta(cursor, time),
                                  chunk_address_delta(cursor, reinterpret_cast<uint64_t>(p)));
        chunk_commit(cursor, out);
    } else {
        stop_recording();
    }
    thread.busy = false;
}

void on_dlopen_or_dlclose() {
    if (!should_record()) return;
    BusyScope busy;
    module_map_rescan(event_time_ns());
}

// The end fields are written whenever a dump exists, even after recording stopped.
void on_quick_exit(int status) {
    if (dump_is_ours()) close_snapshot_writes();
    dump_set_end(format::EndReason::QuickExit, status, 0, true);
}

void on_exec_attempt() {
    if (dump_is_ours()) close_snapshot_writes();
    dump_set_end(format::EndReason::Exec, 0, 0, true);
}

void on_exec_failed() {
    dump_clear_end();
    if (dump_is_ours()) reopen_snapshot_writes();
}

} // namespace memtrace::preload
