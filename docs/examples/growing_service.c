/*
 * A toy request loop with a growth leak, for docs/growth.md. It never leaks at exit (it frees
 * everything when told to stop), yet its heap grows while it runs.
 *
 *     cc -g -O1 -I<memtrace>/preload/include -o growing_service docs/examples/growing_service.c
 *     MEMTRACE_INTERVAL=0.5 memtrace run -o svc.mtd -- ./growing_service
 *
 * It serves about 2000 requests a second until SIGINT or SIGTERM (or for argv[1] seconds):
 *   - every request parses its input and renders a reply in temporary buffers (freed);
 *   - a small LRU keeps the last 64 replies (flat: one freed for each one added);
 *   - every 4th request is a login, and login() adds a 200-byte session to a table that
 *     nothing ever expires: the leak, 500 sessions (100,000 bytes) a second.
 * After a warm-up (a 1 MiB lookup table, kept) it calls memtrace_snapshot("after-warmup"), a
 * no-op when not run under memtrace.
 */
#include <memtrace/memtrace.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct session {
    struct session* next;
    char user[64];
    char token[128];
}; /* 200 bytes */

static volatile sig_atomic_t stopping;
static struct session* sessions;
static char* replies[64];
static char* lookup_table;
static unsigned long served;

static void on_stop(int signal_number) {
    (void)signal_number;
    stopping = 1;
}

static char* parse_request(unsigned long id) {
    char* text = malloc(512);
    snprintf(text, 512, "GET /item/%lu HTTP/1.1", id);
    return text;
}

static char* render_reply(const char* request) {
    char* body = malloc(2048);
    snprintf(body, 2048, "<html>%s</html>", request);
    return body;
}

static void remember_reply(const char* reply, unsigned long id) {
    const unsigned long slot = id % 64;
    free(replies[slot]);
    replies[slot] = strdup(reply);
}

static void login(unsigned long id) {
    struct session* session = calloc(1, sizeof *session);
    snprintf(session->user, sizeof session->user, "user%lu", id % 100000);
    session->next = sessions;
    sessions = session; /* never expired: the leak */
}

static void handle_request(unsigned long id) {
    char* request = parse_request(id);
    char* reply = render_reply(request);
    if (id % 4 == 0) login(id);
    remember_reply(reply, id);
    free(reply);
    free(request);
    ++served;
}

static void warm_up(void) {
    lookup_table = malloc(1 << 20);
    memset(lookup_table, 1, 1 << 20);
}

static void shut_down(void) {
    while (sessions) {
        struct session* next = sessions->next;
        free(sessions);
        sessions = next;
    }
    for (int i = 0; i < 64; ++i)
        free(replies[i]);
    free(lookup_table);
}

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? atof(argv[1]) : 0;
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    warm_up();
    memtrace_snapshot("after-warmup");
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!stopping) {
        for (int i = 0; i < 100; ++i)
            handle_request(served);
        const struct timespec pause = {0, 50 * 1000 * 1000}; /* 100 requests per 50 ms */
        nanosleep(&pause, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (seconds > 0 &&
            (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 >=
                seconds)
            break;
    }
    shut_down();
    fprintf(stderr, "served %lu requests\n", served);
    return 0;
}
