// Blocks leaked outright, one of them in a cycle with another.
// Expected leak scan: "plain" (900 bytes) definite; of the cycle "ring_a" (32 bytes) and
// "ring_b" (32 bytes), which point to each other and nothing points to, ring_a (the lower
// address when allocated first) definite and ring_b indirect; "freed" (1000 bytes) not live.
#include "leakscan_io.h"

#include <stdlib.h>

struct ring {
    struct ring* next;
    char pad[24];
};

__attribute__((noinline)) static void leak(void) {
    say_address("plain", malloc(900));
    struct ring* a = malloc(sizeof *a);
    struct ring* b = malloc(sizeof *b);
    a->next = b;
    b->next = a;
    say_address("ring_a", a);
    say_address("ring_b", b);
    void* freed = malloc(1000);
    say_address("freed", freed);
    free(freed);
}

int main(void) {
    leak();
    wipe_stack_below();
    return 0;
}
