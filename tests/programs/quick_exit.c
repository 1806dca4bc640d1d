// Writes one line with write(2), leaves one line in the stdio buffer, then calls _exit(5):
// the buffered line is lost in a native run too, and must be lost the same way.
#include "program_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void* volatile kept;

__attribute__((noinline)) void* leak_before_quick_exit(void) {
    return malloc(20); /* site: leak_before_quick_exit */
}

int main(void) {
    kept = leak_before_quick_exit();
    say("quick_exit: written directly\n");
    printf("quick_exit: left in the stdio buffer\n");
    _exit(5);
}
