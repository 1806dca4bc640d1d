// Leaks 1 x 333 bytes from before_exec_leak(), then replaces itself (same pid) with the
// program named by argv[1].
#include "program_io.h"

#include <stdlib.h>
#include <unistd.h>

void* volatile kept;

__attribute__((noinline)) void* before_exec_leak(void) {
    return malloc(333); /* site: before_exec_leak */
}

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    kept = before_exec_leak();
    say_number("exec pid", (long)getpid());
    char* const next_argv[] = {argv[1], NULL};
    execv(argv[1], next_argv);
    return 20; // exec failed
}
