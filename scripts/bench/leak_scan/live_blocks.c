// Exit cost of the leak scan: N live blocks of 32 bytes at exit (default 1M). Mode "kept": all
// reachable from one array; "lost": every other one leaked (definite); "chain": one leaked
// linked list (1 definite + N-1 indirect).
#include <stdlib.h>
#include <string.h>

void** kept;

__attribute__((noinline)) static void build(long n, const char* mode) {
    void* previous = NULL;
    for (long i = 0; i < n; ++i) {
        void** block = malloc(32);
        block[0] = previous;
        if (strcmp(mode, "chain") == 0)
            previous = block;
        else
            kept[i] = (strcmp(mode, "lost") == 0 && i % 2) ? NULL : block;
    }
}

// Overwrites the stack below main, where build() left copies of pointers.
__attribute__((noinline)) static void wipe_stack(void) {
    volatile char area[64 * 1024];
    for (size_t i = 0; i < sizeof area; ++i)
        area[i] = 0;
}

int main(int argc, char** argv) {
    const long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char* mode = argc > 2 ? argv[2] : "kept";
    kept = calloc((size_t)n, sizeof(void*));
    build(n, mode);
    wipe_stack();
    return 0;
}
