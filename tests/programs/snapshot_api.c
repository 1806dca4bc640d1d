// Takes three API snapshots with labels, with allocations between them, and prints what each
// memtrace_snapshot() call returned ("snapshot <rc>"): 0 under memtrace, -1 without it.
// Live at exit: 1 x 1000 bytes from before_first(), 2 x 2000 from before_second().
#include "program_io.h"

#include <memtrace/memtrace.h>
#include <stdlib.h>

void* volatile kept[3];

__attribute__((noinline)) void* before_first(void) {
    return malloc(1000); /* site: before_first */
}

__attribute__((noinline)) void* before_second(void) {
    return malloc(2000); /* site: before_second */
}

int main(void) {
    kept[0] = before_first();
    say_number("snapshot", memtrace_snapshot("first"));
    kept[1] = before_second();
    kept[2] = before_second();
    say_number("snapshot", memtrace_snapshot("second"));
    free(malloc(3000));
    say_number("snapshot", memtrace_snapshot(NULL));
    say_number("snapshot", memtrace_snapshot("third"));
    return 0;
}
