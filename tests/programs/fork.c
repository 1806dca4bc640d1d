// The parent leaks 1 x 111 bytes from parent_leak() before fork(); the child leaks 2 x 222
// bytes from child_leak() and exits 0; the parent waits for it and prints both pids.
#include "program_io.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

void* volatile kept[2];

__attribute__((noinline)) void* parent_leak(void) {
    return malloc(111); /* site: parent_leak */
}

__attribute__((noinline)) void* child_leak(void) {
    return malloc(222); /* site: child_leak */
}

int main(void) {
    kept[0] = parent_leak();
    pid_t child = fork();
    if (child < 0) return 10;
    if (child == 0) {
        for (int i = 0; i < 2; ++i)
            kept[i] = child_leak();
        exit(0);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child) return 11;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 12;
    say_number("parent", (long)getpid());
    say_number("child", (long)child);
    return 0;
}
