// Leaks 1 block of 321 bytes from leak_before_segv(), then writes through a null pointer.
#include <stdlib.h>

void* volatile kept;
int* volatile nowhere; // zero-initialised; volatile so the store is really made

__attribute__((noinline)) void* leak_before_segv(void) {
    return malloc(321); /* site: leak_before_segv */
}

int main(void) {
    kept = leak_before_segv();
    free(malloc(40));
    *nowhere = 1;
    return 0; // not reached
}
