// A plugin loaded by dlopen_leak: plugin_leak() leaks 2 blocks of 777 bytes per call.
#include <stdlib.h>

void* volatile plugin_kept[2];

__attribute__((noinline)) void plugin_leak(void) {
    for (int i = 0; i < 2; ++i)
        plugin_kept[i] = malloc(777); /* site: plugin_leak */
}
