// Runs for argv[1] milliseconds, allocating and freeing 64 bytes every 10 ms; with argv[2] =
// "fork" it first forks a child that does the same for the same time and one that exits at once
// (both waited for), and prints "child <pid>" for each ("long" first, then "quick"); with
// argv[2] = "frees" it allocates its blocks first and then only frees, one every 10 ms.
// Leaks nothing.
#include "program_io.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void churn(long ms) {
    for (long i = 0; i < ms / 10; ++i) {
        free(malloc(64));
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

static void free_slowly(long ms) {
    enum { kMax = 1000 };
    void* blocks[kMax];
    long n = ms / 10 < kMax ? ms / 10 : kMax;
    for (long i = 0; i < n; ++i)
        blocks[i] = malloc(64);
    for (long i = 0; i < n; ++i) {
        free(blocks[i]);
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

int main(int argc, char** argv) {
    long ms = argc > 1 ? atol(argv[1]) : 1000;
    if (argc > 2 && strcmp(argv[2], "frees") == 0) {
        free_slowly(ms);
        return 0;
    }
    if (argc > 2 && strcmp(argv[2], "fork") == 0) {
        pid_t long_child = fork();
        if (long_child < 0) return 10;
        if (long_child == 0) {
            churn(ms);
            exit(0);
        }
        pid_t quick_child = fork();
        if (quick_child < 0) return 11;
        if (quick_child == 0) {
            free(malloc(32));
            exit(0);
        }
        churn(ms);
        int status = 0;
        if (waitpid(long_child, &status, 0) != long_child || status != 0) return 12;
        if (waitpid(quick_child, &status, 0) != quick_child || status != 0) return 13;
        say_number("child", (long)long_child);
        say_number("child", (long)quick_child);
        return 0;
    }
    churn(ms);
    return 0;
}
