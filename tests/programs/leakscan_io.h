// Helpers of the leak-scan programs: print a block's address without keeping it anywhere the
// scan would see, and wipe the stack below the caller so no stale copy of a pointer survives in
// a frame that exit() later reuses.
#ifndef MEMTRACE_TEST_LEAKSCAN_IO_H
#define MEMTRACE_TEST_LEAKSCAN_IO_H

#include "program_io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// "<label> 0x<address>\n" on stdout (snprintf does not allocate for %lx). Takes the address as
// an integer: the block's contents are none of its business.
__attribute__((noinline)) static void say_address_value(const char* label, uintptr_t address) {
    char line[96];
    snprintf(line, sizeof line, "%s 0x%lx\n", label, (unsigned long)address);
    say(line);
}
#define say_address(label, pointer) say_address_value((label), (uintptr_t)(pointer))

// Overwrites 64 KiB of stack below the caller's frame with zeros.
__attribute__((noinline)) static void wipe_stack_below(void) {
    volatile char area[64 * 1024];
    for (size_t i = 0; i < sizeof area; ++i)
        area[i] = 0;
}

// Leaks a struct holding the only pointers to two buffers: "struct" (16 bytes), "first" (100)
// and "second" (200); the struct is definite, the buffers indirect.
struct pair {
    char* first;
    char* second;
};
__attribute__((noinline, unused)) static void leak_pair(void) {
    struct pair* p = malloc(sizeof *p);
    p->first = malloc(100);
    p->second = malloc(200);
    say_address("struct", p);
    say_address("first", p->first);
    say_address("second", p->second);
}

#endif
