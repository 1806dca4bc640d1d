// Loads and unloads the plugin (argv[1]) 3000 times while four threads allocate at varying
// stack depths. Every dlclose() retires the unwinder's cached frame rules; the test checks that
// the threads' captures still go through memtrace's own walk (the rule cache reuses the retired
// slots instead of filling up) and give libunwind's stacks.
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

static volatile int g_stop;
static void* volatile g_sink;

__attribute__((noinline)) static void descend(int levels) {
    if (levels > 0) {
        descend(levels - 1);
        __asm__ volatile("");
        return;
    }
    void* p = malloc(32);
    g_sink = p;
    free(p);
}

static void* worker(void* arg) {
    for (unsigned i = 0; !g_stop; ++i)
        descend((int)(i % 50) + (int)(long)arg);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    pthread_t threads[4];
    for (long i = 0; i < 4; ++i)
        if (pthread_create(&threads[i], NULL, worker, (void*)i) != 0) return 3;
    for (int i = 0; i < 3000; ++i) {
        void* plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!plugin) return 10;
        void (*plugin_leak)(void) = (void (*)(void))dlsym(plugin, "plugin_leak");
        if (!plugin_leak) return 11;
        plugin_leak();
        if (dlclose(plugin) != 0) return 12;
    }
    g_stop = 1;
    for (int i = 0; i < 4; ++i)
        pthread_join(threads[i], NULL);
    return 0;
}
