// Allocates a million 48-byte blocks and frees every other one: the freed chunks sit between
// live ones, so glibc can neither merge them nor give them back. Prints "fordblks N", the free
// bytes mallinfo2() reports just before exit, for the doctor's figure to be compared with.
// The surviving blocks stay live until exit.
#include "program_io.h"

#include <malloc.h>
#include <stdlib.h>

enum { kBlocks = 1000000, kSize = 48 };

static void* blocks[kBlocks];

__attribute__((noinline)) static void fill(void) {
    for (int i = 0; i < kBlocks; ++i)
        blocks[i] = malloc(kSize);
}

__attribute__((noinline)) static void free_every_other(void) {
    for (int i = 0; i < kBlocks; i += 2) {
        free(blocks[i]);
        blocks[i] = NULL;
    }
}

int main(void) {
    fill();
    for (int i = 0; i < kBlocks; ++i)
        if (blocks[i] == NULL) return 1;
    free_every_other();
    struct mallinfo2 info = mallinfo2();
    say_number("fordblks", (long)info.fordblks);
    say_number("arena", (long)info.arena);
    return 0;
}
