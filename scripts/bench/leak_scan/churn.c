// Exit cost of the leak scan on a long dump: N malloc/free pairs (default 1M, 2M events) of
// varied sizes, with 1000 blocks live at the end.
#include <stdlib.h>

void* live[1000];

int main(int argc, char** argv) {
    const long n = argc > 1 ? atol(argv[1]) : 1000000;
    for (long i = 0; i < n; ++i) {
        const long slot = i % 1000;
        free(live[slot]);
        live[slot] = malloc(16 + (size_t)(i % 200) * 8);
    }
    return 0;
}
