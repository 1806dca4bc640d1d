// Leaves 4 blocks of 512 bytes from idle_block() live (and frees 2 others), then writes its
// pid to the file named by argv[1] and sleeps, allocating nothing, until someone kills it.
// It gives up after 30 s (exit 1) so a broken test cannot leave it behind forever.
#include "program_io.h"

#include <stdlib.h>
#include <time.h>

void* volatile kept[4];

__attribute__((noinline)) void* idle_block(void) {
    return malloc(512); /* site: idle_block */
}

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    for (int i = 0; i < 4; ++i)
        kept[i] = idle_block();
    free(malloc(64));
    free(malloc(8000));
    if (write_pid_file(argv[1]) != 0) return 3;
    struct timespec pause = {30, 0};
    while (nanosleep(&pause, &pause) != 0) {
    }
    return 1;
}
