// Leaks 2 blocks of 123 bytes from leak_before_abort(), then calls abort().
#include <stdlib.h>

void* volatile kept[2];

__attribute__((noinline)) void* leak_before_abort(void) {
    return malloc(123); /* site: leak_before_abort */
}

int main(void) {
    for (int i = 0; i < 2; ++i)
        kept[i] = leak_before_abort();
    free(malloc(50));
    abort();
}
