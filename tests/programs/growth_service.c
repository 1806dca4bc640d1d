// A "service" with a growth leak: it serves REQUESTS requests (argv[1], default 10000); each
// one churns through temporary allocations that are all freed (parse, render, a 16-entry ring
// of recent responses) and keeps exactly one 1024-byte block in a cache that is only emptied
// at shutdown. After every 1000 requests it takes a snapshot labelled "after-<requests>"
// through memtrace.h. Expected:
//  - at "after-K": the cache site (cache_store) holds K x 1024 bytes in K blocks; the ring
//    (remember_response) holds 16 blocks of constant total size; nothing else from the loop;
//  - at exit: nothing from the loop is live (the cache and the ring are freed).
// Built twice (tests/programs/meson.build): -O0, and -O2 with GROWTH_PADDING, which adds code
// before every function so that no address matches the -O0 build; only symbolized frames can
// match the sites of the two builds. Every function that allocates is noinline and uses the
// block after the call, so -O2 neither inlines it nor turns the call into a tail call, and
// every block is read, so -O2 cannot drop a malloc/free pair.
#include "memtrace/memtrace.h"
#include "program_io.h"

#include <stdlib.h>
#include <string.h>

#ifdef GROWTH_PADDING
// Never called with a nonzero argument; only there to move the code after it.
#define PADDING(name)                                                                              \
    __attribute__((noinline)) int name(int x) {                                                    \
        int acc = x;                                                                               \
        for (int i = 0; i < x; ++i)                                                                \
            acc = acc * 31 + i * 7 + (acc >> 3);                                                   \
        return acc;                                                                                \
    }
#else
#define PADDING(name)
#endif

enum { kMaxRequests = 100000, kCacheEntrySize = 1024, kRingSize = 16, kSnapshotEvery = 1000 };

static char* cache[kMaxRequests];
static char* ring[kRingSize];
volatile unsigned long checksum;

PADDING(pad_parse)
__attribute__((noinline)) static char* parse_request(int id) {
    char* text = malloc(64 + (size_t)(id % 200)); /* site: parse_request */
    memset(text, 'a' + id % 26, 63);
    text[63] = '\0';
    checksum += (unsigned long)text[id % 63];
    return text;
}

PADDING(pad_render)
__attribute__((noinline)) static char* render_response(const char* request, int id) {
    size_t size = 128 + (size_t)(id % 7) * 32;
    char* body = calloc(1, size); /* site: render_response */
    memcpy(body, request, 32);
    char* grown = realloc(body, size * 2); /* site: render_grow */
    grown[size] = 'x';
    checksum += (unsigned long)grown[id % 32];
    return grown;
}

PADDING(pad_ring)
// Keeps the last 16 responses (by copy): flat, but never empty.
__attribute__((noinline)) static void remember_response(const char* response, int id) {
    const int slot = id % kRingSize;
    free(ring[slot]);
    ring[slot] = malloc(256 + (size_t)(id % 8) * 16); /* site: remember_response */
    memcpy(ring[slot], response, 32);
    checksum += (unsigned long)ring[slot][id % 32];
}

PADDING(pad_cache)
// The leak: one 1 KiB entry per request, kept until shutdown.
__attribute__((noinline)) static void cache_store(int id) {
    char* entry = malloc(kCacheEntrySize); /* site: cache_store */
    memset(entry, 'c', kCacheEntrySize);
    entry[0] = (char)id;
    cache[id] = entry;
    checksum += (unsigned long)entry[kCacheEntrySize - 1];
}

PADDING(pad_handle)
__attribute__((noinline)) static void handle_request(int id) {
    char* request = parse_request(id);
    char* response = render_response(request, id);
    remember_response(response, id);
    cache_store(id);
    free(response);
    free(request);
    checksum += (unsigned long)id;
}

__attribute__((noinline)) static void shut_down(int requests) {
    for (int i = 0; i < requests; ++i)
        free(cache[i]);
    for (int i = 0; i < kRingSize; ++i)
        free(ring[i]);
}

int main(int argc, char** argv) {
    int requests = argc > 1 ? atoi(argv[1]) : 10000;
    if (requests < 0 || requests > kMaxRequests) requests = 10000;
    for (int id = 0; id < requests; ++id) {
        handle_request(id);
        if ((id + 1) % kSnapshotEvery == 0) {
            char label[32];
            snprintf(label, sizeof label, "after-%d", id + 1);
            memtrace_snapshot(label);
        }
    }
    shut_down(requests);
    say_number("served", requests);
    return 0;
}
