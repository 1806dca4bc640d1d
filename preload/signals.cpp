#include "signals.h"

#include "dump_file.h"

#include <signal.h>
#include <string.h>

namespace memtrace::preload {
namespace {

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};

void on_fatal_signal(int signal, siginfo_t*, void*) {
    dump_set_end(format::EndReason::Signal, 0, signal, false);
    // SA_RESETHAND restored the default action; raising again ends the process by this signal
    // whether it came from a faulting instruction or from kill().
    raise(signal);
}

} // namespace

void install_fatal_signal_handlers() {
    for (int signal : kFatalSignals) {
        struct sigaction current;
        if (sigaction(signal, nullptr, &current) != 0) continue;
        // sa_handler and sa_sigaction share storage: non-default either way means the app's.
        if (current.sa_handler != SIG_DFL) continue;
        struct sigaction action;
        memset(&action, 0, sizeof(action));
        action.sa_sigaction = on_fatal_signal;
        action.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        sigaction(signal, &action, nullptr);
    }
}

} // namespace memtrace::preload
