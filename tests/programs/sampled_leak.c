// For sampling mode: leaks 20,000 blocks of assorted sizes (about 18 MB) from leak_block(),
// between 200,000 short-lived blocks from scratch_block() that are freed again (one in eight
// grown with realloc first). Prints "leaked_bytes N" and "leaked_blocks N": the truth the
// sampled estimate is compared with. Deterministic: a fixed-seed generator picks the sizes.
#include "program_io.h"

#include <stdlib.h>

static unsigned long long state = 0x9e3779b97f4a7c15ull;

static unsigned next_random(void) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)(state >> 33);
}

// 70% of 16..511 bytes, 25% of 512..2047, 5% of 4096..12287.
static size_t assorted_size(void) {
    const unsigned pick = next_random() % 100;
    if (pick < 70) return 16 + next_random() % 496;
    if (pick < 95) return 512 + next_random() % 1536;
    return 4096 + next_random() % 8192;
}

__attribute__((noinline)) void* leak_block(size_t size) {
    return malloc(size); /* site: leak_block */
}

__attribute__((noinline)) void* scratch_block(size_t size) {
    return malloc(size);
}

void* volatile last_leaked;

int main(void) {
    long leaked_bytes = 0;
    for (int i = 0; i < 20000; ++i) {
        const size_t size = assorted_size();
        last_leaked = leak_block(size);
        leaked_bytes += (long)size;
        for (int j = 0; j < 10; ++j) {
            void* scratch = scratch_block(assorted_size());
            if (j == 0 && i % 8 == 0) scratch = realloc(scratch, assorted_size() + 100);
            free(scratch);
        }
    }
    say_number("leaked_bytes", leaked_bytes);
    say_number("leaked_blocks", 20000);
    return 0;
}
