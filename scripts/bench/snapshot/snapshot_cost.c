// What a snapshot costs, measured from inside a traced program (docs/performance.md,
// "Snapshots"). Usage: snapshot_cost THREADS SECONDS API_CALLS
//
// THREADS workers churn malloc/free (each thread gets its own glibc arena, up to 8 per core) and
// time every malloc+free pair, so a stall caused by malloc_info() holding their arena's lock
// shows as a slow pair. Meanwhile the main thread
//   - times API_CALLS memtrace_snapshot() calls, 20 ms apart (wall time per call);
//   - times malloc_info() alone into a memory stream (what glibc's part costs);
//   - reads the CPU time of memtrace's sampler thread (named "memtrace") at start and end, so
//     that with MEMTRACE_INTERVAL set the sampler's cost per snapshot is CPU / snapshots taken.
// Prints one "key value" line per figure.
#define _GNU_SOURCE
#include <dirent.h>
#include <malloc.h>
#include <memtrace/memtrace.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int stop = 0;

typedef struct {
    unsigned long pairs, slow_100us, slow_1ms;
    double max_us;
} WorkerStats;

static double now_us(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void* worker(void* arg) {
    WorkerStats* stats = arg;
    void* ring[256] = {0};
    unsigned seed = (unsigned)(size_t)arg;
    for (unsigned i = 0; !stop; ++i) {
        double start = now_us(CLOCK_MONOTONIC);
        free(ring[i % 256]);
        ring[i % 256] = malloc(16 + rand_r(&seed) % 4096);
        double us = now_us(CLOCK_MONOTONIC) - start;
        stats->pairs++;
        if (us > stats->max_us) stats->max_us = us;
        if (us > 100) stats->slow_100us++;
        if (us > 1000) stats->slow_1ms++;
    }
    for (int i = 0; i < 256; ++i)
        free(ring[i]);
    return NULL;
}

// The sampler's CPU clock: Linux's per-thread CPU clock id for a tid (what pthread_getcpuclockid
// computes), found by the thread's name.
static clockid_t sampler_clock(void) {
    DIR* dir = opendir("/proc/self/task");
    struct dirent* entry;
    clockid_t clock = 0;
    while (dir && (entry = readdir(dir))) {
        char path[300], name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
        FILE* f = fopen(path, "r");
        if (!f) continue;
        if (fgets(name, sizeof name, f) && strncmp(name, "memtrace", 8) == 0) {
            int tid = atoi(entry->d_name);
            clock = (clockid_t)((~(unsigned)tid << 3) | 6); // CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED
        }
        fclose(f);
    }
    if (dir) closedir(dir);
    return clock;
}

static int compare(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

static void print_distribution(const char* name, double* values, int n) {
    if (n == 0) return;
    qsort(values, (size_t)n, sizeof(double), compare);
    printf("%s_median_us %.1f\n%s_p90_us %.1f\n%s_max_us %.1f\n", name, values[n / 2], name,
           values[n * 9 / 10], name, values[n - 1]);
}

int main(int argc, char** argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    double seconds = argc > 2 ? atof(argv[2]) : 2;
    int calls = argc > 3 ? atoi(argv[3]) : 50;
    pthread_t ids[64];
    WorkerStats stats[64];
    memset(stats, 0, sizeof stats);
    if (threads > 64) threads = 64;
    for (int i = 0; i < threads; ++i)
        pthread_create(&ids[i], NULL, worker, &stats[i]);
    struct timespec settle = {0, 200 * 1000 * 1000};
    nanosleep(&settle, NULL);

    clockid_t sampler = sampler_clock();
    double sampler_start = sampler ? now_us(sampler) : 0;
    double run_start = now_us(CLOCK_MONOTONIC);

    double* api = calloc((size_t)calls + 1, sizeof(double));
    double* api_cpu = calloc((size_t)calls + 1, sizeof(double));
    int api_done = 0;
    for (int i = 0; i < calls; ++i) {
        double start = now_us(CLOCK_MONOTONIC);
        double start_cpu = now_us(CLOCK_THREAD_CPUTIME_ID);
        if (memtrace_snapshot("bench") != 0) break;
        api_cpu[api_done] = now_us(CLOCK_THREAD_CPUTIME_ID) - start_cpu;
        api[api_done++] = now_us(CLOCK_MONOTONIC) - start;
        struct timespec gap = {0, 20 * 1000 * 1000};
        nanosleep(&gap, NULL);
    }
    // malloc_info alone, into memory (the stream is made once, as memtrace does).
    static char text[1 << 20];
    FILE* stream = fmemopen(text, sizeof text, "w");
    double info[50];
    long info_bytes = 0;
    for (int i = 0; i < 50; ++i) {
        rewind(stream);
        double start = now_us(CLOCK_MONOTONIC);
        malloc_info(0, stream);
        fflush(stream);
        info[i] = now_us(CLOCK_MONOTONIC) - start;
        info_bytes = ftell(stream);
    }
    // /proc/self/status read whole, as memtrace does for ProcessMemory.
    double status[50];
    for (int i = 0; i < 50; ++i) {
        char buffer[8192];
        double start = now_us(CLOCK_MONOTONIC);
        FILE* f = fopen("/proc/self/status", "r");
        size_t n = f ? fread(buffer, 1, sizeof buffer, f) : 0;
        if (f) fclose(f);
        status[i] = now_us(CLOCK_MONOTONIC) - start;
        (void)n;
    }
    while (now_us(CLOCK_MONOTONIC) - run_start < seconds * 1e6) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    double sampler_cpu = sampler ? now_us(sampler) - sampler_start : 0;
    stop = 1;
    unsigned long pairs = 0, slow_100us = 0, slow_1ms = 0;
    double max_us = 0;
    for (int i = 0; i < threads; ++i) {
        pthread_join(ids[i], NULL);
        pairs += stats[i].pairs;
        slow_100us += stats[i].slow_100us;
        slow_1ms += stats[i].slow_1ms;
        if (stats[i].max_us > max_us) max_us = stats[i].max_us;
    }
    printf("threads %d\n", threads);
    int arenas = 0;
    for (char* p = text; (p = strstr(p, "<heap nr=")); ++p)
        ++arenas;
    printf("arenas %d\nmalloc_info_bytes %ld\n", arenas, info_bytes);
    print_distribution("api_snapshot", api, api_done);
    print_distribution("api_snapshot_cpu", api_cpu, api_done);
    print_distribution("proc_status", status, 50);
    print_distribution("malloc_info", info, 50);
    printf("sampler_cpu_us %.0f\n", sampler_cpu);
    printf("pairs %lu\npairs_over_100us %lu\npairs_over_1ms %lu\npair_max_us %.1f\n", pairs,
           slow_100us, slow_1ms, max_us);
    return 0;
}
