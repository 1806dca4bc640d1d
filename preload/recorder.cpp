#include "recorder.h"

#include "bootstrap_arena.h"
#include "chunk_writer.h"
#include "clock.h"
#include "dump_file.h"
#include "leak_scan.h"
#include "live_map.h"
#include "memtrace/record_encoding.h"
#include "module_map.h"
#include "options.h"
#include "process_facts.h"
#include "real_functions.h"
#include "sampled_address_set.h"
#include "sampled_block.h"
#include "sampler.h"
#include "signals.h"
#include "size_class_counters.h"
#include "snapshot.h"
#include "stack_table.h"
#include "thread_tags.h"
#include "unwinder.h"

#include <bit>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace memtrace::preload {

constinit int g_state = static_cast<int>(State::Uninitialized);
constinit uint64_t g_sample_bytes = 0;
constinit bool g_sampling_ready = false;
constinit size_t g_inline_small_max = 0;
// A sample point found a block glibc's rounding does not describe: no more inline counting.
constinit bool g_small_rounding_failed = false;
constinit bool g_sampled_headers = false;
constinit SampledAddressSet g_sampled;
// Set once the set had no room for a sampled block: from then on every free is recorded.
constinit bool g_sampled_set_full = false;

namespace {

// 4M slots: up to 3M distinct stacks; only the pages touched cost memory.
constexpr unsigned kStackTableLog2 = 22;

constinit StackTable g_stacks;

// Threads that had an event (each counts once, at its first): see now_for_free.
constinit uint32_t g_event_threads = 0;

// Sampling: the addresses of recorded live blocks. 2^18 slots (2 MiB, touched only where keys
// land, but keys land everywhere) hold ~150,000 live samples, far more than a sensible sample
// rate produces; the 16 KiB filter stays in the L1 cache.
constexpr unsigned kSampledSlotsLog2 = 18;

void set_state(State state) {
    const bool sampling = state == State::Ready && g_sample_bytes != 0;
    __atomic_store_n(&g_sampling_ready, sampling, __ATOMIC_RELAXED);
    if (!sampling) __atomic_store_n(&g_inline_small_max, size_t{0}, __ATOMIC_RELAXED);
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
    __atomic_store_n(&g_sampling_ready, false, __ATOMIC_RELAXED);
    __atomic_store_n(&g_inline_small_max, size_t{0}, __ATOMIC_RELAXED);
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
    const uint64_t now = record_time_ns();
    write_process_info(now);
    module_map_rescan(now);
    snapshot_signal_note_if_taken(now);
    return true;
}

void on_process_exit(int status, void*) {
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == static_cast<int>(State::Ready) &&
        dump_is_ours()) {
        BusyScope busy;
        sampler_at_exit();
        if (!take_exit_snapshot()) stop_recording();
    }
    leak_scan_at_exit();
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
    g_live_map.reset_lock_after_fork();
    thread_tags_off_after_fork();
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != static_cast<int>(State::Ready)) return;
    BusyScope busy;
    dump_forget_after_fork();
    module_map_reset();
    g_stacks.clear();
    // The parent's sampled blocks have no Alloc record in the child's dump.
    g_sampled.clear();
    __atomic_store_n(&g_sampled_set_full, false, __ATOMIC_RELAXED);
    // Nor should the child repeat the parent's sample points: draw afresh at its next event.
    t_thread.sample_rng = 0;
    t_thread.sample_countdown = 0;
    size_class_counters_reset_after_fork(t_thread.size_classes);
    __atomic_store_n(&g_event_threads, t_thread.size_classes ? 1u : 0u, __ATOMIC_RELAXED);
    __atomic_add_fetch(&g_dump_generation, 1, __ATOMIC_RELEASE);
    if (!start_dump(true)) {
        set_state(State::Stopped);
        return;
    }
    sampler_after_fork_in_child(record_time_ns());
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
    usable_size_init();
    unwinder_init();
    if (!g_stacks.init(kStackTableLog2)) {
        diagnose("cannot reserve memory for the stack table", nullptr, 0);
        set_state(State::Stopped);
        return;
    }
    size_class_counters_init();
    thread_tags_init();
    // On glibc's allocator recorded blocks carry a header instead (sampled_block.h).
    const bool sampled_headers = options().sample_bytes && g_allocator_is_glibc;
    if (options().sample_bytes && !sampled_headers && !g_sampled.init(kSampledSlotsLog2)) {
        diagnose("cannot reserve memory for the sampled-address set", nullptr, 0);
        set_state(State::Stopped);
        return;
    }
    g_sample_bytes = options().sample_bytes;
    // glibc's blocks are 16-byte aligned; jemalloc's and tcmalloc's smallest are 8.
    if (options().leak_scan && !g_sample_bytes) g_live_map.enable(g_allocator_is_glibc ? 4 : 3);
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
    if (sampled_headers) __atomic_store_n(&g_sampled_headers, true, __ATOMIC_RELAXED);
    set_state(State::Ready);
}

namespace {

// Whether the event at p needs no fine time: no event of another thread on that address can
// have to be ordered before it (docs/design.md, "Event times"). While this is the only thread
// with events, none can: a second thread counts itself before it times its first event, so an
// event here that follows one of the other's (through whatever synchronization handed over
// the block) sees the count. From then on every event puts its thread's tag on the live map
// at p (kNoThreadTag for a thread without one, so that a tag given back and taken again by a
// new thread is not left on a granule the old thread touched later), and the tag it replaced
// tells whether this thread was the last to allocate or free a block there. A granule not
// touched since reads kNoThreadTag, which matches no thread.
inline bool event_is_own(ThreadState& thread, void* p) {
    if (__atomic_load_n(&g_event_threads, __ATOMIC_RELAXED) == 1 && thread.size_classes)
        return true;
    if (!p) return false;
    const uint8_t tag = thread.tag;
    return g_live_map.exchange_tag(reinterpret_cast<uint64_t>(p), tag) == tag &&
           tag != kNoThreadTag;
}

} // namespace

uint64_t now_for_free(void* p) {
    // The fence orders the clock after the loads that brought the pointer from another thread.
    // A block this thread allocated came from no other (its own records keep their order in
    // its chunk, whose times never decrease): neither the fence nor a fine time is needed.
    ThreadState& thread = t_thread;
    if (event_is_own(thread, p)) return thread_clock_ns(thread.clock);
    return thread_clock_keep(thread.clock, ordered_event_time_ns());
}

uint64_t now_for_alloc(ThreadState& thread, void* p) {
    if (event_is_own(thread, p)) return thread_clock_ns(thread.clock);
    return thread_clock_keep(thread.clock, fine_time_ns());
}

bool program_has_one_thread() {
    return __atomic_load_n(&g_event_threads, __ATOMIC_RELAXED) <= 1;
}

SizeClassBlock* thread_size_classes_slow() {
    BusyScope busy; // may map memory and register the thread-exit key
    SizeClassBlock* block = size_class_block_slow();
    if (block && t_thread.tag == kNoThreadTag) t_thread.tag = thread_tag_acquire();
    // With a second thread glibc locks its arenas anyway: the sampler's thread costs no more.
    if (block && __atomic_add_fetch(&g_event_threads, 1, __ATOMIC_RELAXED) == 2)
        sampler_start_soon();
    return block;
}

namespace {

// Unwinds the calling thread, then sets the event time (if `time` is 0, the clock is read after
// unwinding; `block` is the new block, if the event is an allocation) and interns the stack.
// Called with the thread busy.
[[gnu::always_inline]] inline uint32_t capture_current_stack(ThreadState& thread, uint64_t time,
                                                             void* block) {
    bool truncated = false;
    const uint32_t depth = capture_stack(thread.frames, options().depth, &truncated);
    // Sampled after unwinding: by then the allocator's loads that found this block are long
    // complete, so the unserialized TSC read cannot precede the free that released the block.
    thread.event_time = time ? time : now_for_alloc(thread, block);
    return depth ? g_stacks.intern(thread.frames, depth, truncated, emit_stack).id
                 : format::kNoStack;
}

// The Alloc record with its stack; the counting is the caller's.
[[gnu::always_inline]] inline void write_alloc(ThreadState& thread, void* p, size_t size,
                                               format::AllocFunction function) {
    const uint32_t stack_id = capture_current_stack(thread, 0, p);
    const uint64_t now = thread.event_time;
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
}

[[gnu::always_inline]] inline void write_free(ThreadState& thread, void* p, uint64_t time) {
    ChunkCursor& cursor = thread.cursor;
    uint8_t* out = chunk_reserve(cursor, format::kMaxFreeRecord, time);
    if (out) {
        out = format::encode_free(out, chunk_time_delta(cursor, time),
                                  chunk_address_delta(cursor, reinterpret_cast<uint64_t>(p)));
        chunk_commit(cursor, out);
    } else {
        stop_recording();
    }
}

void write_note(ThreadState& thread, const char* text) {
    const auto length = static_cast<uint32_t>(strlen(text));
    const uint64_t now = record_time_ns();
    ChunkCursor& cursor = thread.cursor;
    uint8_t* out =
        chunk_reserve(cursor, static_cast<uint32_t>(format::note_record_size(length)), now);
    if (!out) {
        stop_recording();
        return;
    }
    out = format::encode_note(out, chunk_time_delta(cursor, now), format::NoteCode::Info, text,
                              length);
    chunk_commit(cursor, out);
}

inline void count_alloc_event(void* p, size_t size) {
    if (SizeClassBlock* counters = thread_size_classes())
        count_alloc(counters, size, usable_size(p));
}

inline void count_free_event(uint64_t usable) {
    if (SizeClassBlock* counters = thread_size_classes()) count_free(counters, usable);
}

// Bytes from one sample point to the next: exponential with mean g_sample_bytes, so the points
// form a Poisson process over the bytes a thread allocates (xorshift64 is enough for that).
int64_t draw_sample_distance(ThreadState& thread) {
    uint64_t x = thread.sample_rng;
    if (__builtin_expect(x == 0, 0)) {
        // Seeded from the thread's own address and the TSC: no syscall, differs per thread.
        x = reinterpret_cast<uint64_t>(&thread) ^ (__rdtsc() * 0x9e3779b97f4a7c15ull);
        x ^= x >> 31;
        if (x == 0) x = 0x2545f4914f6cdd1dull;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    thread.sample_rng = x;
    const double u = static_cast<double>((x >> 11) + 1) * 0x1.0p-53; // (0, 1]
    const double distance = -log(u) * static_cast<double>(g_sample_bytes);
    return distance < 1.0 ? 1 : static_cast<int64_t>(distance);
}

// Full tracing: the event's time against the sampler's deadline (sampler.h).
inline void serve_sampler_if_due(uint64_t time) {
    if (__builtin_expect(time >= __atomic_load_n(&g_sampler_due, __ATOMIC_RELAXED), 0))
        sampler_due(time);
}

[[gnu::noinline]] void sampled_set_overflowed(ThreadState& thread) {
    if (__atomic_exchange_n(&g_sampled_set_full, true, __ATOMIC_ACQ_REL)) return;
    g_sampled.saturate_filter(); // every free now reaches sample_free_slow
    write_note(thread,
               "sampling: the set of sampled live blocks is full; from here on every free is "
               "recorded, so frees of blocks that were never sampled show as unknown frees");
}

} // namespace

void record_alloc(void* p, size_t size, format::AllocFunction function) {
    ThreadState& thread = t_thread;
    thread.busy = true;
    count_alloc_event(p, size);
    g_live_map.add(reinterpret_cast<uint64_t>(p), size);
    write_alloc(thread, p, size, function);
    serve_sampler_if_due(thread.event_time);
    thread.busy = false;
}

void record_free(void* p, uint64_t usable, uint64_t time) {
    ThreadState& thread = t_thread;
    thread.busy = true;
    count_free_event(usable);
    write_free(thread, p, time);
    // Frees too, so that a program that only frees for a while still gets its snapshots.
    serve_sampler_if_due(time);
    thread.busy = false;
}

namespace {

// In a block that reached the thread's countdown: whether a sample point falls in it. The
// thread's first allocation draws its first point, which may fall past the block.
bool sample_point_in_block(ThreadState& thread) {
    if (__builtin_expect(thread.sample_rng == 0, 0)) {
        // The count went below zero by the bytes allocated so far (two's complement).
        const int64_t left =
            draw_sample_distance(thread) + static_cast<int64_t>(thread.sample_countdown);
        if (left >= 0) {
            thread.sample_countdown = static_cast<uint64_t>(left);
            return false;
        }
    }
    // The process is memoryless, so the next point is an exponential distance past the
    // block's end, however many points fell inside it.
    thread.sample_countdown = draw_sample_distance(thread);
    return true;
}

// The header's generation of a block whose Alloc is in this dump.
uint32_t recorded_generation() {
    return __atomic_load_n(&g_dump_generation, __ATOMIC_RELAXED) + 1;
}

// A block with a header whose free is to be recorded now: its Alloc is in this dump, and the
// thread may record.
bool free_to_record(ThreadState& thread, void* p) {
    return sampled_header(p)->generation == recorded_generation() && sampling_ready() &&
           !thread.busy;
}

// A block of the same kind as `p`, with room for the header in front, takes its place (the app
// has not seen `p`). nullptr if memory ran out: the allocation then goes unrecorded.
void* move_behind_header(void* p, size_t size, format::AllocFunction function, size_t alignment) {
    const size_t offset =
        alignment > kSampledHeaderBytes ? std::bit_ceil(alignment) : kSampledHeaderBytes;
    // An aligned block keeps its usable size: pvalloc's is rounded up to whole pages.
    const size_t bytes = function == format::AllocFunction::Aligned ? usable_size(p) : size;
    if (offset > UINT32_MAX || bytes > SIZE_MAX - offset) return nullptr;
    void* base = offset > kSampledHeaderBytes ? g_real.memalign(offset, bytes + offset)
                 : function == format::AllocFunction::Calloc ? g_real.calloc(1, bytes + offset)
                                                             : g_real.malloc(bytes + offset);
    if (!base) return nullptr;
    void* moved = static_cast<char*>(base) + offset;
    if (function == format::AllocFunction::Realloc) memcpy(moved, p, size);
    g_real.free(p);
    *sampled_header(moved) = {static_cast<uint32_t>(offset), 0, kSampledBlockMagic};
    return moved;
}

void* sample_point(ThreadState& thread, void* p, size_t size, format::AllocFunction function,
                   size_t alignment) {
    thread.busy = true;
    if (sample_point_in_block(thread)) {
        if (__atomic_load_n(&g_sampled_headers, __ATOMIC_RELAXED)) {
            void* moved = move_behind_header(p, size, function, alignment);
            if (moved) {
                p = moved;
                sampled_header(p)->generation = recorded_generation();
                write_alloc(thread, p, size, function);
            }
        } else {
            if (!__atomic_load_n(&g_sampled_set_full, __ATOMIC_RELAXED) &&
                !g_sampled.insert(reinterpret_cast<uint64_t>(p))) {
                sampled_set_overflowed(thread);
            }
            write_alloc(thread, p, size, function);
        }
    }
    thread.busy = false;
    return p;
}

} // namespace

void* sample_alloc_general(void* p, size_t size, format::AllocFunction function, size_t alignment) {
    ThreadState& thread = t_thread;
    if (SizeClassBlock* counters = thread_size_classes())
        count_alloc(counters, size, usable_size(p));
    if (__builtin_expect(!__atomic_load_n(&g_inline_small_max, __ATOMIC_RELAXED), 0) &&
        __atomic_load_n(&g_glibc_chunk_headers, __ATOMIC_RELAXED) &&
        !__atomic_load_n(&g_small_rounding_failed, __ATOMIC_RELAXED) && sampling_ready())
        __atomic_store_n(&g_inline_small_max, kSmallAllocMax, __ATOMIC_RELAXED);
    return count_down_to_sample_point(thread, p, size, function, alignment);
}

void* malloc_at_sample_point(size_t size) {
    void* p = g_real.malloc(size);
    if (!p || !sampling_ready()) return p;
    // The inline count took glibc's rounding for the usable size; the header says what it is.
    const size_t usable = glibc_usable_size(p);
    const size_t rounded = glibc_heap_usable_size(size);
    if (usable != rounded && usable != rounded + 16) {
        __atomic_store_n(&g_small_rounding_failed, true, __ATOMIC_RELAXED);
        __atomic_store_n(&g_inline_small_max, size_t{0}, __ATOMIC_RELAXED);
    }
    return sample_alloc_slow(p, size, format::AllocFunction::Malloc, 0);
}

void* sample_alloc_slow(void* p, size_t size, format::AllocFunction function, size_t alignment) {
    ThreadState& thread = t_thread;
    p = sample_point(thread, p, size, function, alignment);
    if (__atomic_load_n(&g_sampler_pending, __ATOMIC_RELAXED)) sampler_work_from_sampling();
    return p;
}

void sampler_work_from_sampling() {
    if (t_thread.busy) return; // a free inside memtrace's own work
    BusyScope busy;            // a snapshot or the thread's start allocates
    sampler_due(fine_time_ns());
}

void sample_free_slow(void* p) {
    ThreadState& thread = t_thread;
    if (thread.busy) return;
    if (!g_sampled.remove(reinterpret_cast<uint64_t>(p)) &&
        !__atomic_load_n(&g_sampled_set_full, __ATOMIC_RELAXED))
        return;
    thread.busy = true;
    write_free(thread, p, now_for_free(p));
    thread.busy = false;
}

void free_sampled_block(void* p) {
    if (bootstrap_owns(p)) return;
    ThreadState& thread = t_thread;
    if (free_to_record(thread, p)) {
        thread.busy = true;
        write_free(thread, p, now_for_free(p));
        thread.busy = false;
    }
    g_real.free(sampled_base(p));
}

void* realloc_sampled_block(void* old, size_t size) {
    ThreadState& thread = t_thread;
    const size_t offset = sampled_header(old)->offset;
    if (size == 0) { // glibc's realloc(p, 0) frees p
        free_sampled_block(old);
        return nullptr;
    }
    if (size > SIZE_MAX - offset) {
        errno = ENOMEM;
        return nullptr;
    }
    const bool recorded = free_to_record(thread, old);
    // Timed before the call: once it returns, another thread may have the old address.
    const uint64_t time = recorded ? now_for_free(old) : 0;
    void* base = g_real.realloc(static_cast<char*>(old) - offset, size + offset);
    if (!base) return nullptr;                   // the old block is as it was
    void* p = static_cast<char*>(base) + offset; // the header moved with the bytes
    sampled_header(p)->generation = 0;
    if (!sampling_ready() || thread.busy) return p;
    thread.busy = true;
    if (recorded) write_free(thread, old, time);
    if (SizeClassBlock* counters = thread_size_classes())
        count_alloc(counters, size, usable_size(base) - offset);
    if (count_down(thread, size) == SmallAlloc::SamplePoint && sample_point_in_block(thread)) {
        sampled_header(p)->generation = recorded_generation();
        write_alloc(thread, p, size, format::AllocFunction::Realloc);
    }
    thread.busy = false;
    if (__atomic_load_n(&g_sampler_pending, __ATOMIC_RELAXED)) sampler_work_from_sampling();
    return p;
}

PendingFree free_begin(void* p) {
    PendingFree pending{usable_size(p), 0, 0, true};
    if (!g_sample_bytes) {
        pending.live_entry = g_live_map.take(reinterpret_cast<uint64_t>(p));
    } else {
        pending.record = g_sampled.remove(reinterpret_cast<uint64_t>(p)) ||
                         __atomic_load_n(&g_sampled_set_full, __ATOMIC_RELAXED);
    }
    if (pending.record) pending.time = now_for_free(p);
    return pending;
}

void free_commit(void* p, const PendingFree& pending) {
    ThreadState& thread = t_thread;
    thread.busy = true;
    if (!g_sample_bytes) count_free_event(pending.usable); // as sample_free: no count when sampled
    if (pending.record) write_free(thread, p, pending.time);
    thread.busy = false;
}

void free_abort(void* p, const PendingFree& pending) {
    // The block is still live: it goes back into the map, or a sampled one into the set.
    ThreadState& thread = t_thread;
    thread.busy = true; // the map may take its lock for a new leaf
    if (pending.live_entry) g_live_map.add(reinterpret_cast<uint64_t>(p), pending.live_entry - 1);
    // free_begin put this thread's tag on it: a block still live, perhaps another thread's.
    g_live_map.exchange_tag(reinterpret_cast<uint64_t>(p), kNoThreadTag);
    if (g_sample_bytes && pending.record &&
        !__atomic_load_n(&g_sampled_set_full, __ATOMIC_RELAXED) &&
        !g_sampled.insert(reinterpret_cast<uint64_t>(p)))
        sampled_set_overflowed(thread);
    thread.busy = false;
}

void record_map(void* address, size_t length, int prot, int flags) {
    ThreadState& thread = t_thread;
    thread.busy = true;
    const uint32_t stack_id = capture_current_stack(thread, 0, nullptr);
    const uint64_t now = thread.event_time;
    ChunkCursor& cursor = thread.cursor;
    uint8_t* out = chunk_reserve(cursor, format::kMaxMemoryMapRecord, now);
    if (out) {
        out = format::encode_map(
            out, chunk_time_delta(cursor, now), reinterpret_cast<uint64_t>(address), length,
            static_cast<uint32_t>(prot), static_cast<uint32_t>(flags), stack_id);
        chunk_commit(cursor, out);
    } else {
        stop_recording();
    }
    thread.busy = false;
}

void record_unmap(void* address, size_t length, uint64_t time) {
    ThreadState& thread = t_thread;
    thread.busy = true;
    ChunkCursor& cursor = thread.cursor;
    uint8_t* out = chunk_reserve(cursor, format::kMaxMemoryMapRecord, time);
    if (out) {
        out = format::encode_unmap(out, chunk_time_delta(cursor, time),
                                   reinterpret_cast<uint64_t>(address), length);
        chunk_commit(cursor, out);
    } else {
        stop_recording();
    }
    thread.busy = false;
}

void record_remap(void* old_address, size_t old_length, void* new_address, size_t new_length,
                  uint64_t time) {
    ThreadState& thread = t_thread;
    thread.busy = true;
    const uint32_t stack_id = capture_current_stack(thread, time, nullptr);
    ChunkCursor& cursor = thread.cursor;
    uint8_t* out = chunk_reserve(cursor, format::kMaxMemoryMapRecord, time);
    if (out) {
        out = format::encode_remap(out, chunk_time_delta(cursor, time),
                                   reinterpret_cast<uint64_t>(old_address), old_length,
                                   reinterpret_cast<uint64_t>(new_address), new_length, stack_id);
        chunk_commit(cursor, out);
    } else {
        stop_recording();
    }
    thread.busy = false;
}

void on_dlopen_or_dlclose() {
    if (!should_record()) return;
    BusyScope busy;
    module_map_rescan(record_time_ns());
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
