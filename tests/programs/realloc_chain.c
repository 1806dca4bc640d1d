// A realloc growth chain. Events, in order:
//   grow_chain:      realloc(NULL,16) 64 1000 10000 24      (5 allocations, 4 frees)
//   start_with_null: realloc(NULL,40)                       (1 allocation)
//   drop_with_zero:  malloc(50) then realloc(p,0)           (1 allocation, 1 free)
// Live at exit: 24 bytes from grow_chain (the last realloc), 40 bytes from start_with_null.
#include <stdlib.h>

void* volatile kept[2];

__attribute__((noinline)) void* grow_chain(void) {
    char* p = realloc(NULL, 16);
    p = realloc(p, 64);
    p = realloc(p, 1000);
    p = realloc(p, 10000);
    p = realloc(p, 24); /* site: grow_chain */
    return p;
}

__attribute__((noinline)) void* start_with_null(void) {
    return realloc(NULL, 40); /* site: start_with_null */
}

__attribute__((noinline)) int drop_with_zero(void) {
    void* p = malloc(50);
    // glibc frees the block and returns NULL for realloc(p, 0).
    return realloc(p, 0) == NULL ? 0 : 1;
}

int main(void) {
    kept[0] = grow_chain();
    kept[1] = start_with_null();
    return drop_with_zero();
}
