// A program for the CI gate tests: each argument pair says what to do, in order.
//   leak COUNT SIZE   COUNT blocks of SIZE bytes from lose_block(), pointers dropped (lost)
//   keep SIZE         one block of SIZE bytes from keep_block(), held by a global (reachable)
//   peak SIZE         one block of SIZE bytes from peak_block(), touched and freed
//   exit CODE         the exit status (default 0)
// Nothing else stays allocated at exit (no stdio).
#include <stdlib.h>
#include <string.h>

void* volatile kept_block;

__attribute__((noinline)) void lose_block(size_t size) {
    char* volatile block = malloc(size); /* site: lose_block */
    memset(block, 1, size);
    block = NULL;
}

__attribute__((noinline)) void keep_block(size_t size) {
    kept_block = malloc(size); /* site: keep_block */
}

__attribute__((noinline)) void peak_block(size_t size) {
    char* volatile block = malloc(size); /* site: peak_block */
    memset(block, 1, size);
    free(block);
}

int main(int argc, char** argv) {
    int status = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char* what = argv[i];
        const size_t value = strtoul(argv[i + 1], NULL, 10);
        if (strcmp(what, "leak") == 0 && i + 2 < argc) {
            const size_t size = strtoul(argv[i + 2], NULL, 10);
            for (size_t n = 0; n < value; ++n)
                lose_block(size);
            ++i;
        } else if (strcmp(what, "keep") == 0) {
            keep_block(value);
        } else if (strcmp(what, "peak") == 0) {
            peak_block(value);
        } else if (strcmp(what, "exit") == 0) {
            status = (int)value;
        } else {
            return 64;
        }
    }
    return status;
}
