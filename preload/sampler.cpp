#include "sampler.h"

#include "clock.h"
#include "dump_file.h"
#include "internal_alloc.h"
#include "malloc_info_text.h"
#include "notes.h"
#include "options.h"
#include "recorder.h"
#include "snapshot.h"
#include "text_append.h"
#include "thread_state.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

namespace memtrace::preload {

constinit bool g_sampler_pending = false;
constinit uint64_t g_sampler_due = UINT64_MAX;

namespace {

enum class SignalOwner : int {
    None = 0,  // no snapshot signal configured
    Ours = 1,  // memtrace's handler is installed
    Taken = 2, // the app has it; memtrace leaves it alone for good
};

constinit int g_signal = 0;
constinit int g_owner = static_cast<int>(SignalOwner::None);
constinit bool g_taken_at_start = false; // the app had the signal before memtrace started
constinit char g_signal_label[32]{};     // "SIGUSR2", the label of Signal snapshots
constinit uint32_t g_signal_label_length = 0;

constinit sem_t g_wake{};
constinit bool g_running = false;
// When the next interval snapshot is due (0: one period after the thread starts).
constinit uint64_t g_next_tick = 0;
// The sampler's work done from the allocation path while the program has one thread.
constinit bool g_inline_busy = false;
constinit uint64_t g_next_watch = 0; // under g_inline_busy
constinit bool g_scheduled = false;  // schedule_from() ran

// With no interval the thread still wakes this often, to notice a handler the app installed.
constexpr uint64_t kHousekeepingNs = 1000000000;
constexpr size_t kStackSize = 256 * 1024;
constexpr size_t kGuardSize = 4096;

void on_snapshot_signal(int) {
    const int saved = errno;
    // Without the thread, the next allocation recorded serves it.
    __atomic_store_n(&g_sampler_due, uint64_t{0}, __ATOMIC_RELAXED);
    sem_post(&g_wake);
    errno = saved;
}

SignalOwner owner() {
    return static_cast<SignalOwner>(__atomic_load_n(&g_owner, __ATOMIC_ACQUIRE));
}

void make_signal_label() {
    char* out = g_signal_label;
    memcpy(out, "SIG", 3);
    out += 3;
    const char* abbreviation = sigabbrev_np(g_signal);
    if (abbreviation) {
        const size_t n = strnlen(abbreviation, sizeof(g_signal_label) - 4);
        memcpy(out, abbreviation, n);
        out += n;
    } else {
        out = append_unsigned(out, g_signal_label + sizeof(g_signal_label),
                              static_cast<uint64_t>(g_signal));
    }
    g_signal_label_length = static_cast<uint32_t>(out - g_signal_label);
}

bool handler_is_ours(const struct sigaction& action) {
    return !(action.sa_flags & SA_SIGINFO) && action.sa_handler == on_snapshot_signal;
}

void write_taken_note(uint64_t now) {
    char text[160];
    const char* const end = text + sizeof(text);
    auto add = [end](char* out, const char* part) {
        return append_text(out, end, part, strlen(part));
    };
    char* out = add(text, g_taken_at_start ? "the program already handled or ignored "
                                           : "the program installed its own ");
    out = append_text(out, end, g_signal_label, g_signal_label_length);
    out = add(out, g_taken_at_start ? " when memtrace started; no snapshot is taken on it"
                                    : " handler; memtrace takes no snapshot on it from then on");
    emit_note(now, format::NoteCode::SnapshotSignalTaken, text, static_cast<uint32_t>(out - text));
}

// The app replaced memtrace's handler: give the signal up (on the sampler thread only).
void check_signal_still_ours() {
    if (owner() != SignalOwner::Ours) return;
    struct sigaction current;
    if (sigaction(g_signal, nullptr, &current) != 0 || handler_is_ours(current)) return;
    __atomic_store_n(&g_owner, static_cast<int>(SignalOwner::Taken), __ATOMIC_RELEASE);
    if (format::FileHeader* header = dump_header())
        __atomic_store_n(&header->snapshot_signal, 0u, __ATOMIC_RELEASE);
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == static_cast<int>(State::Ready))
        write_taken_note(record_time_ns());
}

timespec to_timespec(uint64_t ns) {
    timespec ts;
    ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);
    return ts;
}

// MEMTRACE_INTERVAL; 0: no interval snapshots.
uint64_t interval_setting_ns() {
    return uint64_t{options().interval_ms} * 1000000;
}

// How often the sampler looks at the live block count between interval snapshots.
constexpr uint64_t kWatchLiveNs = 50000000;

// The semaphore was taken once: signals that came while the last snapshot was written make one
// snapshot.
void take_signal_snapshot() {
    while (sem_trywait(&g_wake) == 0) {
    }
    take_snapshot(format::SnapshotTrigger::Signal, g_signal_label, g_signal_label_length);
}

// The tick after `tick`, which has come by `now`: missed ticks are skipped, not caught up.
uint64_t tick_after(uint64_t tick, uint64_t period, uint64_t now) {
    tick += period;
    return tick <= now ? now + period : tick;
}

void* sampler_main(void*) {
    // Busy for good: whatever this thread allocates (stdio inside malloc_info) is memtrace's.
    t_thread.busy = true;
    pthread_setname_np(pthread_self(), "memtrace");
    const uint64_t interval_ns = interval_setting_ns();
    const uint64_t period = interval_ns ? interval_ns : kHousekeepingNs;
    const uint64_t started = monotonic_ns();
    const uint64_t first_tick = __atomic_load_n(&g_next_tick, __ATOMIC_RELAXED);
    uint64_t next = interval_ns && first_tick ? first_tick : started + period;
    uint64_t watch_next = started + kWatchLiveNs;
    for (;;) {
        const timespec deadline = to_timespec(interval_ns && watch_next < next ? watch_next : next);
        const int rc = sem_clockwait(&g_wake, CLOCK_MONOTONIC, &deadline);
        if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == static_cast<int>(State::Stopped))
            return nullptr;
        check_signal_still_ours();
        if (rc == 0) take_signal_snapshot();
        const uint64_t now = monotonic_ns();
        if (interval_ns && now >= watch_next) {
            watch_live_blocks();
            watch_next = now + kWatchLiveNs;
        }
        if (now >= next) {
            if (interval_ns) take_snapshot(format::SnapshotTrigger::Interval, "", 0);
            next = tick_after(next, period, now);
        }
        if (!interval_ns && owner() != SignalOwner::Ours) return nullptr; // nothing left to do
    }
}

bool sampler_needed() {
    return options().interval_ms > 0 || owner() == SignalOwner::Ours;
}

void sampler_start() {
    if (!sampler_needed()) return;
    if (__atomic_exchange_n(&g_running, true, __ATOMIC_ACQ_REL)) return;
    BusyScope busy;
    // The stream is made here, on an app thread that has its arena already: the sampler's
    // own first malloc would attach it to an arena, maybe create one, and change what
    // malloc_info reports.
    malloc_info_prepare();
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    // The stack is memtrace's own memory (reserve_pages), which the leak scan never reads as a
    // root: what the sampler leaves on it (malloc_info walks the arenas) is not the app's. glibc
    // never frees or reuses a stack it was given, so no app thread can inherit it. The lowest page
    // is a guard.
    uint8_t* stack = static_cast<uint8_t*>(reserve_pages(kStackSize));
    const bool own_stack = stack && mprotect(stack, kGuardSize, PROT_NONE) == 0 &&
                           pthread_attr_setstack(&attributes, stack, kStackSize) == 0;
    if (!own_stack) pthread_attr_setstacksize(&attributes, kStackSize);
    // The thread blocks every signal, so no signal meant for the app runs on it.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pthread_t thread;
    int rc = pthread_create(&thread, &attributes, sampler_main, nullptr);
    if (rc == EINVAL) {
        // The stack is too small for the app's static TLS: let glibc size it.
        pthread_attr_destroy(&attributes);
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&thread, &attributes, sampler_main, nullptr);
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    pthread_attr_destroy(&attributes);
    if (rc != 0) {
        // No thread, no periodic or signal snapshots; API and exit snapshots still work.
        __atomic_store_n(&g_running, false, __ATOMIC_RELEASE);
        if (format::FileHeader* header = dump_header()) {
            __atomic_store_n(&header->snapshot_interval_ms, 0u, __ATOMIC_RELEASE);
        }
    }
}

// One line on stderr when MEMTRACE_SNAPSHOT_SIGNAL named nothing usable (tracing goes on).
void diagnose_invalid_signal() {
    char line[256];
    size_t length = 0;
    auto add = [&](const char* text) {
        const size_t n = strnlen(text, sizeof(line) - 1 - length);
        memcpy(line + length, text, n);
        length += n;
    };
    const char* value = getenv("MEMTRACE_SNAPSHOT_SIGNAL");
    add("memtrace: MEMTRACE_SNAPSHOT_SIGNAL=");
    add(value ? value : "");
    add(" is not a signal memtrace can use; no snapshot is taken on a signal\n");
    ssize_t ignored = write(STDERR_FILENO, line, length);
    (void)ignored;
}

} // namespace

void snapshot_signal_setup() {
    sem_init(&g_wake, 0, 0);
    if (options().snapshot_signal_invalid) diagnose_invalid_signal();
    g_signal = options().snapshot_signal;
    if (g_signal == 0) return;
    make_signal_label();
    struct sigaction current;
    if (sigaction(g_signal, nullptr, &current) != 0) return;
    // sa_handler and sa_sigaction share storage: anything but SIG_DFL is the app's (or ignored
    // on purpose, inherited across exec as with nohup).
    if (current.sa_handler != SIG_DFL) {
        g_taken_at_start = true;
        __atomic_store_n(&g_owner, static_cast<int>(SignalOwner::Taken), __ATOMIC_RELEASE);
        return;
    }
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_snapshot_signal;
    action.sa_flags = SA_RESTART; // the app's interrupted system calls carry on
    sigemptyset(&action.sa_mask);
    if (sigaction(g_signal, &action, nullptr) == 0)
        __atomic_store_n(&g_owner, static_cast<int>(SignalOwner::Ours), __ATOMIC_RELEASE);
}

void snapshot_signal_release() {
    if (owner() == SignalOwner::Ours) {
        struct sigaction action;
        memset(&action, 0, sizeof(action));
        action.sa_handler = SIG_DFL;
        sigemptyset(&action.sa_mask);
        sigaction(g_signal, &action, nullptr);
    }
    __atomic_store_n(&g_owner, static_cast<int>(SignalOwner::None), __ATOMIC_RELEASE);
}

int snapshot_signal_in_force() {
    return owner() == SignalOwner::Ours ? g_signal : 0;
}

void snapshot_signal_note_if_taken(uint64_t now) {
    if (owner() == SignalOwner::Taken) write_taken_note(now);
}

namespace {

// The allocation path calls sampler_due() from `due` on (or sooner: sampler_start_soon, the
// snapshot signal).
// From the process start (or the fork): the live count is watched from the start, so that the
// malloc_info budget knows the peak when the first interval snapshot comes.
void schedule_from(uint64_t now) {
    const uint64_t interval_ns = interval_setting_ns();
    const uint64_t first_tick = now + interval_ns;
    g_next_watch = now + kWatchLiveNs;
    __atomic_store_n(&g_next_tick, interval_ns ? first_tick : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g_scheduled, true, __ATOMIC_RELAXED);
    const uint64_t due = first_tick < g_next_watch ? first_tick : g_next_watch;
    __atomic_store_n(&g_sampler_due, interval_ns ? due : UINT64_MAX, __ATOMIC_RELAXED);
    __atomic_store_n(&g_sampler_pending, true, __ATOMIC_RELEASE);
}

// The sampler's work on the allocating thread, which is busy: signal and interval snapshots,
// the live count's watch, and the check of the signal's owner.
void work_inline(uint64_t now) {
    if (__atomic_exchange_n(&g_inline_busy, true, __ATOMIC_ACQUIRE)) return;
    const bool signalled = sem_trywait(&g_wake) == 0;
    const uint64_t interval_ns = interval_setting_ns();
    uint64_t next = __atomic_load_n(&g_next_tick, __ATOMIC_RELAXED);
    if (signalled || (interval_ns && now >= next)) check_signal_still_ours();
    if (signalled) take_signal_snapshot();
    uint64_t due = UINT64_MAX;
    if (interval_ns) {
        if (now >= next) {
            take_snapshot(format::SnapshotTrigger::Interval, "", 0);
            next = tick_after(next, interval_ns, now);
            __atomic_store_n(&g_next_tick, next, __ATOMIC_RELAXED);
            g_next_watch = now + kWatchLiveNs;
        } else if (now >= g_next_watch) {
            watch_live_blocks();
            g_next_watch = now + kWatchLiveNs;
        }
        due = next < g_next_watch ? next : g_next_watch;
    }
    __atomic_store_n(&g_sampler_due, due, __ATOMIC_RELAXED);
    // A signal that came meanwhile must not wait for `due`.
    int posted = 0;
    if (sem_getvalue(&g_wake, &posted) == 0 && posted > 0)
        __atomic_store_n(&g_sampler_due, uint64_t{0}, __ATOMIC_RELAXED);
    __atomic_store_n(&g_inline_busy, false, __ATOMIC_RELEASE);
}

} // namespace

void sampler_schedule_at_load() {
    // No thread yet: one of memtrace's makes glibc lock its arenas in every malloc and free of
    // a program that has one thread (docs/design.md, "No thread while the program has one").
    const int state = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
    if (state == static_cast<int>(State::Ready) && sampler_needed()) {
        schedule_from(monotonic_ns());
    } else if (state == static_cast<int>(State::Initializing)) {
        // Another thread is at it, the options may not be read yet: the first allocation
        // recorded schedules.
        __atomic_store_n(&g_sampler_due, uint64_t{0}, __ATOMIC_RELAXED);
        __atomic_store_n(&g_sampler_pending, true, __ATOMIC_RELEASE);
    }
}

void sampler_at_exit() {
    if (!__atomic_load_n(&g_running, __ATOMIC_ACQUIRE)) check_signal_still_ours();
}

void sampler_start_soon() {
    __atomic_store_n(&g_sampler_due, uint64_t{0}, __ATOMIC_RELAXED);
}

void sampler_after_fork_in_child(uint64_t now) {
    // Only the forking thread exists here; a signal the parent had not yet served is dropped.
    sem_init(&g_wake, 0, 0);
    g_running = false;
    if (!sampler_needed()) return;
    // As at load: a child that execs or exits soon never gets a thread.
    __atomic_store_n(&g_inline_busy, false, __ATOMIC_RELAXED);
    schedule_from(now);
}

void sampler_due(uint64_t now) {
    if (now < __atomic_load_n(&g_sampler_due, __ATOMIC_RELAXED)) return;
    if (!__atomic_load_n(&g_sampler_pending, __ATOMIC_ACQUIRE)) {
        // The thread runs; a snapshot signal reset the deadline on its way.
        __atomic_store_n(&g_sampler_due, UINT64_MAX, __ATOMIC_RELAXED);
        return;
    }
    if (!__atomic_load_n(&g_scheduled, __ATOMIC_RELAXED)) { // initialization was under way
        if (sampler_needed()) {
            schedule_from(now);
        } else {
            __atomic_store_n(&g_sampler_pending, false, __ATOMIC_RELEASE);
        }
        return;
    }
    if (program_has_one_thread()) {
        work_inline(now);
        return;
    }
    if (!__atomic_exchange_n(&g_sampler_pending, false, __ATOMIC_ACQ_REL)) return;
    __atomic_store_n(&g_sampler_due, UINT64_MAX, __ATOMIC_RELAXED);
    sampler_start();
}

} // namespace memtrace::preload
