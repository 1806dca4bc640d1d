// Returns 42 from main after printing through stdio.
#include <stdio.h>
#include <stdlib.h>

void* volatile kept;

__attribute__((noinline)) void* leak_before_return(void) {
    return malloc(40); /* site: leak_before_return */
}

int main(int argc, char** argv) {
    kept = leak_before_return();
    printf("return_from_main: %d argument(s)\n", argc - 1);
    for (int i = 1; i < argc; ++i)
        printf("arg %d: [%s]\n", i, argv[i]);
    return 42;
}
