// A program with its own SIGUSR2 handler, to check that memtrace leaves it working.
//   own_sigusr2 install  installs the handler in main(), raises SIGUSR2 three times, lives 400 ms
//                        (allocating) and prints "handled <count>" (3 expected).
//   own_sigusr2 ignore   sets SIGUSR2 to SIG_IGN and execs itself with "ignored": the new image
//                        starts with SIGUSR2 ignored, raises it, and prints "ignored <1|0>" (1 if
//                        SIGUSR2 is still ignored after the raise, which it survived).
// Leaks nothing.
#include "program_io.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled = 0;

static void on_usr2(int signal_number) {
    (void)signal_number;
    handled = handled + 1;
}

static void churn(long ms) {
    for (long i = 0; i < ms / 10; ++i) {
        free(malloc(64));
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    if (strcmp(argv[1], "install") == 0) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = on_usr2;
        sigemptyset(&action.sa_mask);
        if (sigaction(SIGUSR2, &action, NULL) != 0) return 3;
        for (int i = 0; i < 3; ++i)
            raise(SIGUSR2);
        churn(400);
        say_number("handled", (long)handled);
        return 0;
    }
    if (strcmp(argv[1], "ignore") == 0) {
        signal(SIGUSR2, SIG_IGN);
        char* args[] = {argv[0], "ignored", NULL};
        execv("/proc/self/exe", args);
        return 4;
    }
    if (strcmp(argv[1], "ignored") == 0) {
        raise(SIGUSR2);
        churn(100);
        struct sigaction current;
        if (sigaction(SIGUSR2, NULL, &current) != 0) return 5;
        say_number("ignored", current.sa_handler == SIG_IGN ? 1 : 0);
        return 0;
    }
    return 2;
}
