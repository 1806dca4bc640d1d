// Leaves 5 blocks of 300 bytes from hold_block() live (and frees 4 others), waits 200 ms,
// then kills itself with SIGKILL: nothing at all runs after that.
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

void* volatile kept[5];

__attribute__((noinline)) void* hold_block(void) {
    return malloc(300); /* site: hold_block */
}

int main(void) {
    for (int i = 0; i < 5; ++i)
        kept[i] = hold_block();
    for (int i = 0; i < 4; ++i)
        free(malloc(2000));
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    kill(getpid(), SIGKILL);
    return 1; // not reached
}
