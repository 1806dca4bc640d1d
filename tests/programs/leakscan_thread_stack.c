// A block whose only pointer is a local of another thread, still blocked when main exits.
// Expected leak scan: "held" (700 bytes) reachable; "lost" (800 bytes, allocated by main and
// dropped) definite.
#include "leakscan_io.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static int ready_pipe[2];
static int never_pipe[2];

static void* holder(void* unused) {
    (void)unused;
    void* volatile held = malloc(700);
    say_address("held", held);
    char byte = 1;
    if (write(ready_pipe[1], &byte, 1) != 1) abort();
    // Blocks until the process exits: nothing is ever written to never_pipe.
    if (read(never_pipe[0], &byte, 1) == 1) free(held);
    return NULL;
}

__attribute__((noinline)) static void leak_in_main(void) {
    say_address("lost", malloc(800));
}

int main(void) {
    if (pipe(ready_pipe) != 0 || pipe(never_pipe) != 0) return 1;
    pthread_t thread;
    if (pthread_create(&thread, NULL, holder, NULL) != 0) return 1;
    char byte;
    if (read(ready_pipe[0], &byte, 1) != 1) return 1;
    leak_in_main();
    wipe_stack_below();
    return 0; // exit() while the holder thread is blocked in read()
}
