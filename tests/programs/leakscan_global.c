// A block kept by a global pointer, and one leaked outright.
// Expected leak scan: "kept" (500 bytes) reachable, "lost" (600 bytes) definite.
#include "leakscan_io.h"

#include <stdlib.h>

void* kept_by_global;

__attribute__((noinline)) static void allocate(void) {
    kept_by_global = malloc(500);
    void* lost = malloc(600);
    say_address("kept", kept_by_global);
    say_address("lost", lost);
}

int main(void) {
    allocate();
    wipe_stack_below();
    return 0;
}
