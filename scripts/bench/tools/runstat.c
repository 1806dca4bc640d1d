// Runs one command and writes its wall time, CPU time and peak RSS to a file:
//   runstat RESULT_FILE [VAR=VALUE]... -- COMMAND [ARG]...
// The VAR=VALUE settings apply to the command only (as with env(1)), so that an LD_PRELOAD meant
// for the command does not trace this wrapper too. RESULT_FILE gets one line:
// "wall_ns user_us system_us maxrss_kib exit_status voluntary_context_switches".
//
// Why not time it from the Python driver directly: a child spawned by a large process inherits
// that process's RSS high-water mark across exec (Linux records the old mm's peak at exec), so
// its ru_maxrss would be at least the driver's size. This wrapper is tiny, so the peak it reports
// is the command's own (the largest of the command and its waited-for descendants, as with
// /usr/bin/time %M), and the clock brackets just fork..wait.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long microseconds(struct timeval tv) {
    return (long long)tv.tv_sec * 1000000LL + tv.tv_usec;
}

int main(int argc, char** argv) {
    int command = 2;
    while (command < argc && strcmp(argv[command], "--") != 0)
        ++command;
    ++command; // past "--"
    if (argc < 3 || command >= argc) {
        fprintf(stderr, "usage: %s RESULT_FILE [VAR=VALUE]... -- COMMAND [ARG]...\n", argv[0]);
        return 125;
    }
    long long start = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("runstat: fork");
        return 125;
    }
    if (pid == 0) {
        for (int i = 2; i < command - 1; ++i) {
            if (putenv(argv[i]) != 0) {
                perror("runstat: putenv");
                _exit(127);
            }
        }
        execvp(argv[command], argv + command);
        perror("runstat: exec");
        _exit(127);
    }
    int status = 0;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) {
        perror("runstat: wait4");
        return 125;
    }
    long long wall = now_ns() - start;
    int exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE* out = fopen(argv[1], "w");
    if (out == NULL) {
        perror("runstat: result file");
        return 125;
    }
    fprintf(out, "%lld %lld %lld %ld %d %ld\n", wall, microseconds(usage.ru_utime),
            microseconds(usage.ru_stime), usage.ru_maxrss, exit_status, usage.ru_nvcsw);
    fclose(out);
    return exit_status;
}
