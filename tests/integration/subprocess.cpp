#include "subprocess.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace memtrace::integration {

bool ProcessResult::exited() const {
    return !timed_out && WIFEXITED(wait_status);
}

int ProcessResult::exit_code() const {
    return exited() ? WEXITSTATUS(wait_status) : -1;
}

bool ProcessResult::signaled() const {
    return !timed_out && WIFSIGNALED(wait_status);
}

int ProcessResult::term_signal() const {
    return signaled() ? WTERMSIG(wait_status) : 0;
}

std::string ProcessResult::describe() const {
    std::string how;
    if (timed_out)
        how = "timed out and was killed";
    else if (exited())
        how = "exited with " + std::to_string(exit_code());
    else if (signaled())
        how = "killed by signal " + std::to_string(term_signal());
    else
        how = "ended with wait status " + std::to_string(wait_status);
    return "pid " + std::to_string(pid) + " " + how + "\n--- stdout ---\n" + out +
           "\n--- stderr ---\n" + err;
}

namespace {

std::vector<std::string> build_environment(const ProcessSpec& spec) {
    std::map<std::string, std::string> vars;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        std::string text = *entry;
        auto eq = text.find('=');
        if (eq != std::string::npos) vars[text.substr(0, eq)] = text.substr(eq + 1);
    }
    for (const auto& name : spec.env_removed)
        vars.erase(name);
    for (const auto& [name, value] : spec.env_overrides)
        vars[name] = value;
    std::vector<std::string> result;
    for (const auto& [name, value] : vars)
        result.push_back(name + "=" + value);
    return result;
}

std::vector<char*> as_pointers(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (auto& s : strings)
        pointers.push_back(s.data());
    pointers.push_back(nullptr);
    return pointers;
}

// Only async-signal-safe calls here: the test driver may have threads.
[[noreturn]] void exec_child(int out_w, int err_w, const char* cwd, char* const* argv,
                             char* const* envp) {
    setpgid(0, 0);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(out_w, STDOUT_FILENO);
    dup2(err_w, STDERR_FILENO);
    // Signals the driver ignores or blocks must not leak into the child.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    if (cwd[0] != '\0' && chdir(cwd) != 0) _exit(126);
    execve(argv[0], argv, envp);
    const char msg[] = "subprocess: execve failed\n";
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(127);
}

} // namespace

Subprocess::Subprocess(const ProcessSpec& spec) {
    if (spec.argv.empty()) throw std::invalid_argument("Subprocess: empty argv");
    std::vector<std::string> args = spec.argv;
    std::vector<std::string> env = build_environment(spec);
    std::vector<char*> argv = as_pointers(args);
    std::vector<char*> envp = as_pointers(env);
    std::string cwd = spec.cwd.string();

    int out_pipe[2];
    int err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        throw std::runtime_error("pipe2 failed");
    }
    deadline_ = std::chrono::steady_clock::now() + spec.timeout;
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
    if (pid_ == 0) exec_child(out_pipe[1], err_pipe[1], cwd.c_str(), argv.data(), envp.data());
    // Set the group from this side too, so a kill(-pid) right after fork cannot miss.
    setpgid(pid_, pid_);
    close(out_pipe[1]);
    close(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
}

Subprocess::~Subprocess() {
    if (!waited_ && pid_ > 0) {
        kill(-pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
    if (err_fd_ >= 0) close(err_fd_);
}

ProcessResult Subprocess::wait() {
    ProcessResult result;
    result.pid = pid_;
    bool reaped = false;
    // After the child exits, a grandchild may still hold the pipes; give it a moment only.
    std::chrono::steady_clock::time_point drain_deadline{};
    while (true) {
        if (!reaped) {
            pid_t r = waitpid(pid_, &result.wait_status, WNOHANG);
            if (r == pid_) {
                reaped = true;
                waited_ = true;
                drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            }
        }
        if (reaped && out_fd_ < 0 && err_fd_ < 0) break;
        auto now = std::chrono::steady_clock::now();
        if (reaped && now >= drain_deadline) {
            // Left-over descendants still hold the pipes: end them, the test is over.
            kill(-pid_, SIGKILL);
            break;
        }
        if (!reaped && now >= deadline_) {
            kill(-pid_, SIGKILL);
            kill(pid_, SIGKILL);
            waitpid(pid_, &result.wait_status, 0);
            waited_ = true;
            result.timed_out = true;
            break;
        }
        pollfd fds[2];
        int count = 0;
        for (int fd : {out_fd_, err_fd_})
            if (fd >= 0) fds[count++] = {fd, POLLIN, 0};
        if (count == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
        }
        poll(fds, static_cast<nfds_t>(count), 20);
        for (int i = 0; i < count; ++i) {
            if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            char buffer[65536];
            ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            bool is_out = fds[i].fd == out_fd_;
            if (n <= 0) {
                close(fds[i].fd);
                (is_out ? out_fd_ : err_fd_) = -1;
            } else {
                (is_out ? result.out : result.err).append(buffer, static_cast<size_t>(n));
            }
        }
    }
    return result;
}

ProcessResult run_process(const ProcessSpec& spec) {
    Subprocess process(spec);
    return process.wait();
}

} // namespace memtrace::integration
