// Prints through stdio (flushed by exit) and leaves with exit(3).
#include <stdio.h>
#include <stdlib.h>

void* volatile kept;

__attribute__((noinline)) void* leak_before_exit(void) {
    return malloc(10); /* site: leak_before_exit */
}

int main(void) {
    kept = leak_before_exit();
    printf("exit_code: line one\n");
    printf("exit_code: line two, no newline yet");
    exit(3);
}
