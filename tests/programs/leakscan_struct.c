// A leaked struct holding the only pointers to two buffers.
// Expected leak scan: the struct (16 bytes) definite, the buffers (100 and 200 bytes) indirect,
// nothing else unreachable. Prints "struct/first/second 0x<address>".
#include <stdlib.h>

#include "leakscan_io.h"

struct pair {
    char* first;
    char* second;
};

__attribute__((noinline)) static void leak_pair(void) {
    struct pair* p = malloc(sizeof *p);
    p->first = malloc(100);
    p->second = malloc(200);
    say_address("struct", p);
    say_address("first", p->first);
    say_address("second", p->second);
}

int main(void) {
    leak_pair();
    wipe_stack_below();
    return 0;
}
