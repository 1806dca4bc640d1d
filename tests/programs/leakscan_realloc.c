// Blocks that went through realloc, for the scan's map of live blocks: small and large sizes
// (a large block's size is kept in the map after it), moves, a shrink and a failed realloc.
// Expected leak scan: "grown" (100 -> 5000 bytes), "failed" (300 bytes, whose realloc to an
// impossible size failed, so it is still live), "shrunk" (4000 -> 64 bytes) definite; "kept"
// (70000 bytes, from a global) and "inner" (48 bytes, only pointed to from "kept") reachable.
#include "leakscan_io.h"

#include <stdint.h>
#include <stdlib.h>

static void** g_kept;

__attribute__((noinline)) static void leak(void) {
    char* grown = malloc(100);
    char* spacer = malloc(16); // so that growing cannot happen in place
    grown = realloc(grown, 5000);
    free(spacer);
    say_address("grown", grown);

    void* failed = malloc(300);
    const uintptr_t failed_address = (uintptr_t)failed;
    void* volatile impossible = realloc(failed, SIZE_MAX / 2);
    if (impossible) exit(3);
    say_address_value("failed", failed_address);

    void* shrunk = realloc(malloc(4000), 64);
    say_address("shrunk", shrunk);

    g_kept = malloc(70000);
    g_kept[0] = malloc(48);
    say_address("kept", g_kept);
    say_address("inner", g_kept[0]);
}

int main(void) {
    leak();
    wipe_stack_below();
    return 0;
}
