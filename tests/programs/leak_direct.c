// Leaks blocks of known sizes from named functions and frees everything else.
// Expected: leak_hundred 3 x 100 bytes, leak_page 1 x 4096 bytes, nothing from scratch_block.
#include <stdlib.h>

// Keeps the leaked pointers observable so the compiler cannot drop the calls.
void* volatile kept[4];

__attribute__((noinline)) void* leak_hundred(void) {
    return malloc(100); /* site: leak_hundred */
}

__attribute__((noinline)) void* leak_page(void) {
    return malloc(4096); /* site: leak_page */
}

__attribute__((noinline)) void* scratch_block(size_t size) {
    return malloc(size);
}

int main(void) {
    for (int i = 0; i < 3; ++i)
        kept[i] = leak_hundred();
    kept[3] = leak_page();
    for (size_t i = 0; i < 10; ++i)
        free(scratch_block(1000 + i));
    return 0;
}
