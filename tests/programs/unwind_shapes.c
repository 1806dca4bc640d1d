// Stacks of many shapes for the unwinder comparison (tests/integration/test_unwinder.cpp):
// built with -O2 and without frame pointers. Recursion deeper and shallower than the depth
// limit, frames with variable-length arrays (their CFA follows RBP), calls back from libc
// (qsort), a signal handler that allocates on the thread's stack and on an alternate stack, a
// coroutine (makecontext) that allocates, threads (whose first allocation happens inside
// pthread_getattr_np), and a plugin (argv[1]) loaded, called, unloaded and loaded again.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // pthread_getattr_np
#endif
#include "program_io.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

static void* volatile g_sink;

static void keep(void* p) {
    g_sink = p;
    free(p);
}

__attribute__((noinline)) static unsigned long recurse(unsigned level, unsigned every) {
    unsigned long total = 0;
    if (level % every == 0) keep(malloc(16 + level));
    if (level > 0) total = recurse(level - 1, every);
    __asm__ volatile("" : "+r"(total));
    return total + level;
}

// A variable-length array: GCC keeps RBP as the frame's base and the CFA follows it.
__attribute__((noinline)) static unsigned long with_vla(unsigned n) {
    volatile char buffer[n + 16];
    memset((char*)buffer, (int)n, n + 16);
    keep(calloc(1, n));
    if (n > 8) return with_vla(n / 2) + buffer[n / 2];
    return buffer[0];
}

static int compare_and_allocate(const void* a, const void* b) {
    keep(malloc(24));
    return *(const int*)a - *(const int*)b;
}

static void on_signal(int signal) {
    keep(malloc(100 + (size_t)signal));
}

// A coroutine on a stack of its own (captures there are left to libunwind).
static ucontext_t g_main_context, g_coroutine_context;

static void coroutine(void) {
    for (int i = 0; i < 3; ++i)
        keep(malloc(300 + (size_t)i));
}

static void run_coroutine(void) {
    static char stack[128 * 1024];
    if (getcontext(&g_coroutine_context) != 0) exit(4);
    g_coroutine_context.uc_stack.ss_sp = stack;
    g_coroutine_context.uc_stack.ss_size = sizeof(stack);
    g_coroutine_context.uc_link = &g_main_context;
    makecontext(&g_coroutine_context, coroutine, 0);
    if (swapcontext(&g_main_context, &g_coroutine_context) != 0) exit(5);
}

static void* thread_main(void* arg) {
    const unsigned id = (unsigned)(unsigned long)arg;
    // As Rust's runtime does at a thread's start: its first allocation is made inside
    // pthread_getattr_np, which holds the thread's own lock meanwhile.
    pthread_attr_t attributes;
    if (pthread_getattr_np(pthread_self(), &attributes) == 0) pthread_attr_destroy(&attributes);
    for (unsigned round = 0; round < 50; ++round) {
        recurse(10 + id * 7, 3);
        with_vla(64 + id);
    }
    return NULL;
}

static void use_plugin(const char* path) {
    void* plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!plugin) exit(10);
    void (*plugin_leak)(void) = (void (*)(void))dlsym(plugin, "plugin_leak");
    if (!plugin_leak) exit(11);
    plugin_leak();
    if (dlclose(plugin) != 0) exit(12);
}

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    for (unsigned depth = 1; depth < 150; depth += 7)
        recurse(depth, 5);
    for (unsigned round = 0; round < 20; ++round)
        with_vla(200 + round);

    int numbers[64];
    for (int i = 0; i < 64; ++i)
        numbers[i] = (i * 37) % 64;
    qsort(numbers, 64, sizeof(int), compare_and_allocate);

    signal(SIGUSR1, on_signal);
    for (int i = 0; i < 5; ++i)
        raise(SIGUSR1);
    static char alternate[64 * 1024];
    stack_t stack = {.ss_sp = alternate, .ss_size = sizeof(alternate), .ss_flags = 0};
    sigaltstack(&stack, NULL);
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_signal;
    action.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR2, &action, NULL);
    for (int i = 0; i < 5; ++i)
        raise(SIGUSR2);

    run_coroutine();

    pthread_t threads[4];
    for (unsigned long i = 0; i < 4; ++i)
        if (pthread_create(&threads[i], NULL, thread_main, (void*)i) != 0) return 3;
    for (int i = 0; i < 4; ++i)
        pthread_join(threads[i], NULL);

    use_plugin(argv[1]);
    recurse(30, 2); // whatever now lies where the plugin was
    use_plugin(argv[1]);
    say("done\n");
    return 0;
}
