// Sends the snapshot signal to itself (SIGUSR2, or the number in argv[1]) and then lives on for
// argv[2] milliseconds (default 500), allocating a little every 10 ms, so that memtrace's
// sampler has time to write the Signal snapshot. Prints "alive" at the end: the signal did not
// kill it. Leaks nothing.
#include "program_io.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
    int signal_number = argc > 1 ? atoi(argv[1]) : SIGUSR2;
    long ms = argc > 2 ? atol(argv[2]) : 500;
    if (kill(getpid(), signal_number) != 0) return 2;
    for (long i = 0; i < ms / 10; ++i) {
        free(malloc(64));
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    say("alive\n");
    return 0;
}
