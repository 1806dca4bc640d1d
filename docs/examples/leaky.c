/*
 * A small program that leaks on purpose, to show what memtrace finds (scripts/demo.sh runs it).
 * Build with debug info so the report can name functions and lines:
 *
 *     cc -g -O0 -o leaky docs/examples/leaky.c
 *     memtrace run -- ./leaky
 *
 * What it leaks, 500 bytes in 5 blocks:
 *   - load_config():  one block of 256 bytes (malloc), the result is dropped by main();
 *   - make_record():  three blocks of 48 bytes (calloc), reached through
 *                     build_index() -> add_entry() -> make_record(); main() frees the index
 *                     but not the records in it;
 *   - append_line():  one block of 100 bytes, the last realloc() of the log built by
 *                     write_log().
 * scratch_work() allocates and frees a 4096-byte buffer: it is not a leak and must not show up.
 * Output goes to stderr, which is unbuffered, so stdio allocates nothing of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct record {
    int id;
    char name[44];
}; /* 48 bytes */

static char* load_config(void) {
    char* text = malloc(256);
    if (text) snprintf(text, 256, "verbose=1");
    return text;
}

/* noinline keeps every link of the chain on the stack even when built with optimization. */
__attribute__((noinline)) static struct record* make_record(int id) {
    struct record* record = calloc(1, sizeof *record);
    if (record) {
        record->id = id;
        snprintf(record->name, sizeof record->name, "record-%d", id);
    }
    return record;
}

__attribute__((noinline)) static void add_entry(struct record** index, int id) {
    index[id] = make_record(id);
}

__attribute__((noinline)) static struct record** build_index(int count) {
    struct record** index = malloc((size_t)count * sizeof *index);
    if (!index) return NULL;
    for (int id = 0; id < count; ++id)
        add_entry(index, id);
    return index;
}

__attribute__((noinline)) static char* append_line(char* log, size_t new_size, const char* line) {
    char* grown = realloc(log, new_size);
    if (!grown) return log;
    strncat(grown, line, new_size - strlen(grown) - 1);
    return grown;
}

__attribute__((noinline)) static char* write_log(void) {
    char* log = calloc(1, 40);
    if (!log) return NULL;
    log = append_line(log, 70, "started\n");
    log = append_line(log, 100, "index built\n");
    return log;
}

__attribute__((noinline)) static void scratch_work(void) {
    char* buffer = malloc(4096);
    if (!buffer) return;
    memset(buffer, 'x', 4096);
    free(buffer);
}

int main(void) {
    char* config = load_config();
    struct record** index = build_index(3);
    char* log = write_log();
    scratch_work();

    if (config && index && log) {
        fprintf(stderr, "leaky: config \"%s\", %d records, log of %zu characters\n", config, 3,
                strlen(log));
    }
    free(index); /* the records it points to are lost */
    return 0;    /* config and log are never freed */
}
