// A leaked struct holding the only pointers to two buffers.
// Expected leak scan: the struct (16 bytes) definite, the buffers (100 and 200 bytes) indirect,
// nothing else unreachable. Prints "struct/first/second 0x<address>".
#include "leakscan_io.h"

#include <stdlib.h>

int main(void) {
    leak_pair();
    wipe_stack_below();
    return 0;
}
