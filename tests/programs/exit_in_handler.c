// Calls exit(7) from inside a SIGUSR1 handler.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

void* volatile kept;

__attribute__((noinline)) void* leak_before_signal(void) {
    return malloc(30); /* site: leak_before_signal */
}

static void leave_from_handler(int signo) {
    (void)signo;
    printf("exit_in_handler: in handler\n");
    exit(7);
}

int main(void) {
    kept = leak_before_signal();
    struct sigaction action = {0};
    action.sa_handler = leave_from_handler;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGUSR1, &action, NULL) != 0) return 2;
    printf("exit_in_handler: raising\n");
    raise(SIGUSR1);
    return 1; // not reached
}
