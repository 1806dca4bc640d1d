#define UNW_LOCAL_ONLY
#include "unwinder.h"

#include "frame_rule_cache.h"
#include "memtrace/dump_format.h"
#include "text_append.h"

#include <fcntl.h>
#include <libunwind.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" void* __libc_stack_end; // ld.so: where the main thread's stack started

namespace memtrace::preload {
namespace {

enum class Mode : uint8_t { Own, Libunwind, Compare };

constinit Mode g_mode = Mode::Own;

// memtrace's own executable code, whose frames are dropped from the top of each stack.
constinit uint64_t g_own_start = 0;
constinit uint64_t g_own_end = 0;

// libunwind's buffer holds this many frames beyond the requested depth: room for memtrace's own
// frames on top, and one more to tell a full stack from a deeper one.
constexpr uint32_t kOwnFramesRoom = 8;

// Where a walk may read: [low, high) is mapped for as long as the thread runs. Only the stacks
// the threads were given qualify: the main thread's, known once for the process, and each
// other thread's pthread stack block, looked up once per thread. A signal stack or a coroutine's
// may be unmapped and its addresses reused by another mapping at any time, so a capture running
// on one goes to libunwind.
struct StackBounds {
    uint64_t low;
    uint64_t high;
    bool learnt;
};
constinit thread_local StackBounds t_stack __attribute__((tls_model("initial-exec"))) = {};
constinit uint64_t g_main_stack_low = 0;
constinit uint64_t g_main_stack_high = 0;

// MEMTRACE_UNWINDER=compare: how many captures agreed, fell back or differed.
struct CompareCounts {
    uint64_t captures;
    uint64_t fallbacks;
    uint64_t mismatches;
};
constinit CompareCounts g_compare{};

int find_own_range(dl_phdr_info* info, size_t, void* data) {
    const auto marker = reinterpret_cast<uint64_t>(data);
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
        const uint64_t start = info->dlpi_addr + ph.p_vaddr;
        const uint64_t end = start + ph.p_memsz;
        if (marker >= start && marker < end) {
            g_own_start = start;
            g_own_end = end;
            return 1;
        }
    }
    return 0;
}

inline bool is_own(uint64_t address) {
    return address >= g_own_start && address < g_own_end;
}

// The main thread's stack is mapped from any frame up to where it started; below, it may grow
// to the limit, and the kernel keeps other mappings at least 128 MiB (plus the stack's random
// offset) below its top, so a frame less than min(limit, 128 MiB) below that is on this stack.
void learn_main_stack() {
    rlimit limit{};
    uint64_t size = uint64_t{128} << 20;
    if (getrlimit(RLIMIT_STACK, &limit) == 0 && limit.rlim_cur < size) size = limit.rlim_cur;
    const auto high = reinterpret_cast<uint64_t>(__libc_stack_end);
    if (high <= size) return;
    g_main_stack_low = high - size;
    g_main_stack_high = high;
}

// The mapping of /proc/self/maps that holds address, read in pieces into a buffer on the stack
// (no allocation, no lock: pthread_getattr_np would take the thread's own lock, which a
// caller of pthread_getattr_np may hold while it allocates).
bool find_mapping(uint64_t address, uint64_t* begin, uint64_t* end) {
    const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buffer[4096];
    size_t kept = 0; // bytes of an unfinished line at the buffer's start
    bool found = false;
    bool done = false;
    while (!done) {
        const ssize_t n = read(fd, buffer + kept, sizeof(buffer) - kept);
        if (n <= 0) break;
        const size_t filled = kept + static_cast<size_t>(n);
        size_t line = 0;
        for (size_t i = 0; i < filled && !done; ++i) {
            if (buffer[i] != '\n') continue;
            uint64_t values[2] = {0, 0};
            size_t p = line;
            for (uint64_t& value : values) {
                for (; p < i; ++p) {
                    const char c = buffer[p];
                    const int digit = c >= '0' && c <= '9'   ? c - '0'
                                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                             : -1;
                    if (digit < 0) break;
                    value = value << 4 | static_cast<uint64_t>(digit);
                }
                ++p; // the '-' between the two
            }
            if (values[0] > address) {
                done = true; // the list is in address order
            } else if (address < values[1]) {
                *begin = values[0];
                *end = values[1];
                found = done = true;
            }
            line = i + 1;
        }
        kept = filled - line;
        if (kept == sizeof(buffer)) break; // a line longer than the buffer: give up
        memmove(buffer, buffer + line, kept);
    }
    close(fd);
    return found;
}

// A thread's stack block as pthread_create made it: the thread's descriptor sits at its top,
// above all its frames, and the mapping that holds the descriptor is the block (the guard page
// below it is a mapping of its own). Not for the main thread, whose descriptor the loader
// allocated elsewhere: it is left without bounds here (its stack is g_main_stack_*).
[[gnu::noinline]] void learn_thread_stack(StackBounds& bounds) {
    bounds.learnt = true;
    if (syscall(SYS_gettid) == getpid()) return;
    const auto descriptor = reinterpret_cast<uint64_t>(pthread_self());
    uint64_t begin = 0, end = 0;
    if (!find_mapping(descriptor, &begin, &end)) return;
    bounds.low = begin;
    bounds.high = descriptor;
}

// The old way, and the fallback: libunwind's backtrace, memtrace's frames cut off the top.
[[gnu::always_inline]] inline uint32_t capture_with_libunwind(uint64_t* frames, uint32_t max_depth,
                                                              bool* truncated) {
    void** raw = reinterpret_cast<void**>(frames);
    int count = unw_backtrace(raw, static_cast<int>(max_depth + kOwnFramesRoom + 1));
    if (count <= 0) {
        *truncated = false;
        return 0;
    }
    uint32_t skip = 0;
    while (skip < static_cast<uint32_t>(count) && is_own(frames[skip]))
        ++skip;
    uint32_t depth = static_cast<uint32_t>(count) - skip;
    *truncated =
        depth > max_depth || static_cast<uint32_t>(count) == max_depth + kOwnFramesRoom + 1;
    if (depth > max_depth) depth = max_depth;
    if (skip) memmove(frames, frames + skip, depth * sizeof(uint64_t));
    return depth;
}

// One step of a walk: the registers of a frame. The step that produced this state from the
// inner one read RIP from [rsp - 8] and, if rbp_from_slot, RBP from [rsp + rbp_offset] (else
// RBP came unchanged from the inner state).
struct WalkState {
    uint64_t rip;
    uint64_t rsp;
    uint64_t rbp;
    int32_t rbp_offset;
    uint32_t rbp_from_slot;
};

// Field by field, as the walk stored them: a wider load of a state just written by narrower
// stores cannot take its bytes from the store buffer and waits for them to reach the cache
// (with the compiler's 16-byte copy, 19% of a Python program's capture time was that wait).
// Relaxed atomic loads keep the compiler from merging the fields into vector loads again.
inline void copy_state(WalkState& to, const WalkState& from) {
    to.rip = __atomic_load_n(&from.rip, __ATOMIC_RELAXED);
    to.rsp = __atomic_load_n(&from.rsp, __ATOMIC_RELAXED);
    to.rbp = __atomic_load_n(&from.rbp, __ATOMIC_RELAXED);
    to.rbp_offset = __atomic_load_n(&from.rbp_offset, __ATOMIC_RELAXED);
    to.rbp_from_slot = __atomic_load_n(&from.rbp_from_slot, __ATOMIC_RELAXED);
}

// The thread's previous walk, outermost state first, for the part of the stack that has not
// changed since (see capture_with_rules). A chain of states each derived from the one after it
// by the rules of the generation below; its slots are checked against memory when used.
inline constexpr uint32_t kCachedStates = 80; // deeper walks are not cached
struct WalkCache {
    uint64_t generation;
    uint32_t count;      // states; 0 = nothing cached
    bool ended_by_limit; // the walk stopped at its frame limit at states[0]
    bool last_is_frame;  // states[0] is a recorded frame (else its rip < 0x4000 ended the walk)
    WalkState states[kCachedStates];
};
constinit thread_local WalkCache t_walk __attribute__((tls_model("initial-exec"))) = {};

// Reuses the cached walk from states[at] (equal to the current state) outward, if every stack
// slot the walk would read from there still holds what it held: then the walk would go exactly
// as before. Writes the frames from frames[count]; returns the new count, or 0 if it cannot.
[[gnu::always_inline]] inline uint32_t reuse_cached_walk(const WalkCache& cache, uint32_t at,
                                                         uint64_t* frames, uint32_t count,
                                                         uint32_t limit, uint64_t low) {
    const uint32_t cached_frames = cache.last_is_frame ? at + 1 : at;
    uint32_t take = cached_frames;
    if (count + take > limit) {
        take = limit - count;
    } else if (cache.ended_by_limit && count + take < limit) {
        return 0; // the walk would go on past where the cached one stopped
    }
    // Copies the frames and checks each state after states[at] that the walk reaches: down to
    // the last frame taken, and the terminal state when the walk gets there.
    const WalkState* states = cache.states;
    uint64_t* out = frames + count;
    auto holds = [low](const WalkState& state) {
        const uint64_t slot = state.rsp - 8;
        const uint64_t rbp_slot = state.rsp + static_cast<int64_t>(state.rbp_offset);
        bool same = slot >= low && *reinterpret_cast<const uint64_t*>(slot) == state.rip;
        if (state.rbp_from_slot)
            same &= rbp_slot >= low && *reinterpret_cast<const uint64_t*>(rbp_slot) == state.rbp;
        return same;
    };
    out[0] = states[at].rip;
    bool same = true;
    for (uint32_t i = 1; i < take; ++i) {
        out[i] = states[at - i].rip;
        same &= holds(states[at - i]);
    }
    if (take == cached_frames && !cache.last_is_frame) same &= holds(states[0]);
    if (!same) return 0;
    return count + take;
}

// The same stack as capture_with_libunwind() would give, or false when this walk cannot be
// sure of that (the caller then asks libunwind). Must be inlined into capture_stack(): the walk
// starts from the frame that would call unw_backtrace().
//
// memtrace's own frames are crossed by their frame pointers (all of libmemtrace is built with
// them), so the walk starts at the app's frame with the registers the app had at its call:
// RIP = the return address, RSP = the CFA of memtrace's outermost frame, RBP as saved there.
// From there each step is one cached rule: CFA = RSP or RBP + offset, the caller's RIP at
// CFA - 8, its RBP unchanged or at CFA + offset, its RSP = CFA. Like libunwind 1.6's fast
// trace, each frame is recorded as its return address (its rule is the one at the address minus
// one, the call instruction), and the walk stops after a frame whose return address (or RBP) is
// undefined, or at a return address below 0x4000. Every read is checked to lie in the thread's
// stack, and the CFA must move up.
//
// Consecutive captures on a thread mostly share the outer part of the stack. A walk is a
// function of its state (rip, rsp, rbp) and of the slots it reads, so once the state equals
// one of the previous walk's, checking that the slots it read from there on still hold the
// same values proves the rest of the walk is the same: those loads are independent of each
// other, where a walk step waits for the previous one.
[[gnu::always_inline]] inline bool capture_with_rules(uint64_t* frames, uint32_t max_depth,
                                                      bool* truncated, uint32_t* depth_out) {
    const uint64_t generation = __atomic_load_n(&g_frame_rule_generation, __ATOMIC_ACQUIRE);
    if (__builtin_expect(generation == ~uint64_t{0}, 0)) return false;
    const uint64_t low = reinterpret_cast<uint64_t>(__builtin_frame_address(0));
    uint64_t high = g_main_stack_high;
    if (low - g_main_stack_low >= high - g_main_stack_low) {
        // Not the main thread's stack: another thread's, a signal stack, a coroutine's.
        StackBounds& bounds = t_stack;
        if (__builtin_expect(!bounds.learnt, 0)) learn_thread_stack(bounds);
        if (low < bounds.low || low >= bounds.high) return false;
        high = bounds.high;
    }

    // libunwind records this frame, then one per return address into memtrace.
    uint32_t own_frames = 1;
    uint64_t frame = low;
    // The app's RBP is the one memtrace's outermost frame saved, at its CFA - 16.
    WalkState state{0, 0, 0, -16, 1};
    for (;;) {
        if ((frame & 7) || frame + 16 > high) return false;
        const auto* saved = reinterpret_cast<const uint64_t*>(frame);
        state.rip = saved[1];
        state.rbp = saved[0];
        state.rsp = frame + 16;
        if (!is_own(state.rip)) break;
        if (++own_frames > kOwnFramesRoom - 2 || state.rbp <= frame) return false;
        frame = state.rbp;
    }

    WalkCache& cache = t_walk;
    // The innermost cached state not below the current one; -1 once no join is possible.
    int32_t candidate =
        cache.count && cache.generation == generation ? static_cast<int32_t>(cache.count) - 1 : -1;
    WalkState walked[kCachedStates]; // this walk's states until it joins the cached one
    uint32_t steps = 0;
    bool cacheable = true;
    bool ended_by_limit = false;
    const uint32_t limit = max_depth + kOwnFramesRoom + 1 - own_frames;
    uint32_t count = 0;
    for (;;) {
        while (candidate >= 0 && cache.states[candidate].rsp < state.rsp)
            --candidate;
        if (candidate >= 0 && cache.states[candidate].rsp == state.rsp) {
            const WalkState& cached = cache.states[candidate];
            if (cached.rip == state.rip && cached.rbp == state.rbp) {
                const auto at = static_cast<uint32_t>(candidate);
                const uint32_t joined = reuse_cached_walk(cache, at, frames, count, limit, low);
                if (joined) {
                    // The cached states from `at` out, then this walk's states on top. The
                    // joined state now follows this walk's previous state: record how this
                    // walk read its RBP, which later checks of the chain rely on.
                    cache.states[at].rbp_from_slot = state.rbp_from_slot;
                    cache.states[at].rbp_offset = state.rbp_offset;
                    if (at + 1 + steps <= kCachedStates) {
                        for (uint32_t i = 0; i < steps; ++i)
                            copy_state(cache.states[at + 1 + i], walked[steps - 1 - i]);
                        cache.count = at + 1 + steps;
                    } else {
                        cache.count = 0;
                    }
                    *truncated = joined > max_depth;
                    *depth_out = joined > max_depth ? max_depth : joined;
                    return true;
                }
            }
            --candidate; // the same frame address, another state: perhaps further out
        }
        if (steps < kCachedStates) {
            walked[steps++] = state;
        } else {
            cacheable = false;
        }
        if (state.rip < 0x4000) break;
        if (state.rip >> 47) return false; // not a user-space address: a damaged stack
        frames[count++] = state.rip;
        if (count == limit) {
            ended_by_limit = true;
            break;
        }
        const uint64_t packed =
            frame_rule_lookup(state.rip - 1, generation); // the call instruction
        if (__builtin_expect(packed == 0, 0)) return false;
        const FrameRule rule = unpack_frame_rule(packed);
        if (rule.kind != FrameKind::Standard) {
            if (rule.kind == FrameKind::Outermost) break;
            return false;
        }
        const uint64_t cfa =
            (rule.cfa_from_rbp ? state.rbp : state.rsp) + static_cast<int64_t>(rule.cfa_offset);
        if (cfa <= state.rsp || cfa - 8 < low || cfa > high) return false;
        state.rip = reinterpret_cast<const uint64_t*>(cfa)[-1];
        state.rbp_from_slot = rule.rbp_saved;
        state.rbp_offset = rule.rbp_offset;
        if (rule.rbp_saved) {
            const uint64_t at = cfa + static_cast<int64_t>(rule.rbp_offset);
            if (at < low || at + 8 > high) return false;
            state.rbp = *reinterpret_cast<const uint64_t*>(at);
        }
        state.rsp = cfa;
    }
    if (cacheable) {
        for (uint32_t i = 0; i < steps; ++i)
            copy_state(cache.states[i], walked[steps - 1 - i]);
        cache.count = steps;
        cache.generation = generation;
        cache.ended_by_limit = ended_by_limit;
        cache.last_is_frame = walked[steps - 1].rip >= 0x4000;
    } else {
        cache.count = 0;
    }
    *truncated = count > max_depth;
    *depth_out = count > max_depth ? max_depth : count;
    return true;
}

void write_text(const char* text) {
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored;
}

void write_number(uint64_t value, bool hex) {
    char text[24];
    const char* end = append_unsigned(text, text + sizeof(text), value, hex ? 16 : 10);
    ssize_t ignored = write(STDERR_FILENO, text, static_cast<size_t>(end - text));
    (void)ignored;
}

void write_stack(const char* label, const uint64_t* frames, uint32_t depth, bool truncated) {
    write_text(label);
    for (uint32_t i = 0; i < depth; ++i) {
        write_text(" 0x");
        write_number(frames[i], true);
    }
    write_text(truncated ? " (truncated)\n" : "\n");
}

// MEMTRACE_UNWINDER=compare: both unwinders, libunwind's result kept, differences on stderr.
[[gnu::noinline]] void report_mismatch(const uint64_t* own, uint32_t own_depth, bool own_truncated,
                                       const uint64_t* reference, uint32_t depth, bool truncated) {
    if (__atomic_add_fetch(&g_compare.mismatches, 1, __ATOMIC_RELAXED) > 20) return;
    write_text("memtrace: unwinder mismatch\n");
    write_stack("  own:      ", own, own_depth, own_truncated);
    write_stack("  libunwind:", reference, depth, truncated);
}

void report_comparison() {
    if (g_mode != Mode::Compare) return;
    write_text("memtrace: unwinder compare: captures ");
    write_number(__atomic_load_n(&g_compare.captures, __ATOMIC_RELAXED), false);
    write_text(", fallbacks ");
    write_number(__atomic_load_n(&g_compare.fallbacks, __ATOMIC_RELAXED), false);
    write_text(", mismatches ");
    write_number(__atomic_load_n(&g_compare.mismatches, __ATOMIC_RELAXED), false);
    write_text("\n");
}

// MEMTRACE_UNWINDER=compare: both unwinders from this same frame, libunwind's result kept.
[[gnu::noinline]] uint32_t capture_both(uint64_t* frames, uint32_t max_depth, bool* truncated) {
    uint64_t own[format::kMaxStackDepth + kOwnFramesRoom + 1];
    uint32_t own_depth = 0;
    bool own_truncated = false;
    const bool walked = capture_with_rules(own, max_depth, &own_truncated, &own_depth);
    const uint32_t depth = capture_with_libunwind(frames, max_depth, truncated);
    __atomic_add_fetch(&g_compare.captures, 1, __ATOMIC_RELAXED);
    if (!walked) {
        __atomic_add_fetch(&g_compare.fallbacks, 1, __ATOMIC_RELAXED);
    } else if (own_depth != depth || own_truncated != *truncated ||
               memcmp(own, frames, depth * sizeof(uint64_t)) != 0) {
        report_mismatch(own, own_depth, own_truncated, frames, depth, *truncated);
    }
    return depth;
}

} // namespace

void unwinder_init() {
    // Per-thread caches: no lock shared between threads while unwinding.
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    dl_iterate_phdr(find_own_range, reinterpret_cast<void*>(&unwinder_init));
    learn_main_stack();
    const char* choice = getenv("MEMTRACE_UNWINDER");
    if (choice && strcmp(choice, "libunwind") == 0) {
        g_mode = Mode::Libunwind;
    } else if (choice && strcmp(choice, "compare") == 0) {
        g_mode = Mode::Compare;
        atexit(report_comparison);
    } else if (choice && *choice && strcmp(choice, "memtrace") != 0) {
        write_text("memtrace: MEMTRACE_UNWINDER must be memtrace, libunwind or compare; using "
                   "memtrace\n");
    }
    if (g_mode != Mode::Libunwind && !frame_rule_cache_init()) g_mode = Mode::Libunwind;
}

void unwinder_forget_modules() {
    frame_rule_cache_forget_modules();
}

[[gnu::noinline]] uint32_t capture_stack(uint64_t* frames, uint32_t max_depth, bool* truncated) {
    if (__builtin_expect(g_mode == Mode::Own, 1)) {
        uint32_t depth = 0;
        if (__builtin_expect(capture_with_rules(frames, max_depth, truncated, &depth), 1))
            return depth;
        return capture_with_libunwind(frames, max_depth, truncated);
    }
    if (g_mode == Mode::Libunwind) return capture_with_libunwind(frames, max_depth, truncated);
    return capture_both(frames, max_depth, truncated);
}

} // namespace memtrace::preload
