#include "background_replay.h"

#include "dump_file.h"
#include "internal_alloc.h"
#include "options.h"
#include "raw_syscalls.h"
#include "recorder.h"

#include <new>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

namespace memtrace::preload {
namespace {

// In memtrace's own memory (internal_alloc), which the scan knows not to read as a root (the
// table's batch holds heap addresses); not a static: one with a destructor could be torn down
// by the exit handlers before the scan runs.
struct Background {
    ScanArena arena;
    LiveBlockReplay replay{arena};
};

// The table mirrors the live blocks (32-64 bytes each) while the program runs. Past this (about
// 400,000 live blocks) the replay is left to the exit: a big live set makes the background
// replay cost the program more than it saves at exit (measured: python3 with PYTHONMALLOC=malloc,
// 1.2 million live blocks, 1.56 -> 1.75 s with a 32 MiB limit, 1.41-1.46 s with 8 or 16 MiB),
// while a smaller one saves the whole replay at exit (C++ containers, a 12 MiB table: exit scan
// 0.075 s with an 8 MiB limit, 0.005 s with 16).
constexpr uint64_t kMaxTableBytes = uint64_t{16} << 20;

constinit pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
constinit Background* g_background = nullptr;
constinit bool g_given_up = false; // a step failed, or the scan took over
constinit pid_t g_pid = 0;         // the process whose dump is replayed

void give_up() {
    g_given_up = true;
    if (!g_background) return;
    g_background->~Background(); // releases the arena's regions; the struct's memory stays
    g_background = nullptr;
}

} // namespace

bool background_replay_wanted() {
    const format::FileHeader* header = dump_header();
    return header && options().leak_scan && g_sample_bytes == 0 &&
           !(header->flags & format::kFlagForkChild) &&
           __atomic_load_n(&header->data_end, __ATOMIC_ACQUIRE) <= options().leak_scan_max_dump;
}

ReplayStep background_replay_step() {
    if (pthread_mutex_trylock(&g_lock) != 0) return ReplayStep::Idle; // the exit's scan has it
    ReplayStep step = ReplayStep::Idle;
    if (!g_given_up) {
        if (!background_replay_wanted() || (g_pid && g_pid != getpid())) {
            give_up();
        } else {
            if (!g_background) {
                if (void* memory = internal_alloc(sizeof(Background))) {
                    g_background = new (memory) Background;
                    g_pid = getpid();
                    if (!g_background->replay.init(0)) give_up();
                } else {
                    g_given_up = true;
                }
            }
            const uint64_t data_end = __atomic_load_n(&dump_header()->data_end, __ATOMIC_ACQUIRE);
            if (g_background && data_end != g_background->replay.read_end()) {
                step = ReplayStep::Progress;
                void* dump = raw_mmap(nullptr, data_end, PROT_READ, MAP_SHARED, dump_fd(), 0);
                if (dump == MAP_FAILED ||
                    g_background->replay.catch_up(static_cast<const uint8_t*>(dump), data_end,
                                                  true) != ReplayResult::Ok ||
                    g_background->replay.table_bytes() > kMaxTableBytes) {
                    // The scan at exit replays from the start (and says what failed, if so).
                    give_up();
                }
                if (dump != MAP_FAILED) raw_munmap(dump, data_end);
            }
        }
    }
    if (g_given_up) step = ReplayStep::Done;
    pthread_mutex_unlock(&g_lock);
    return step;
}

LiveBlockReplay* background_replay_take_over(ScanArena** arena) {
    pthread_mutex_lock(&g_lock);
    LiveBlockReplay* replay = nullptr;
    if (!g_given_up && g_background && g_pid == getpid()) {
        replay = &g_background->replay;
        *arena = &g_background->arena;
    }
    g_given_up = true; // no step from now on; the state now belongs to the caller
    pthread_mutex_unlock(&g_lock);
    return replay;
}

} // namespace memtrace::preload
