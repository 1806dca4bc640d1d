// Runs a child process with its stdout and stderr captured, with a hard time limit, so that no
// test can hang on a program, the launcher or the analyzer.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace memtrace::integration {

struct ProcessResult {
    pid_t pid = -1;
    int wait_status = 0;
    bool timed_out = false; // the time limit was hit and the process group was killed
    std::string out;
    std::string err;

    bool exited() const;
    int exit_code() const; // -1 unless exited()
    bool signaled() const;
    int term_signal() const; // 0 unless signaled()
    // "exited with 3" / "killed by signal 9" plus captured stderr, for failure messages.
    std::string describe() const;
};

struct ProcessSpec {
    std::vector<std::string> argv; // argv[0] must be a path; no PATH search
    std::map<std::string, std::string> env_overrides;
    std::vector<std::string> env_removed;
    std::filesystem::path cwd;
    std::chrono::milliseconds timeout{std::chrono::seconds(60)};
};

// A started child. The child runs in its own process group, with core dumps disabled, and its
// environment is this process's environment with the spec's changes applied.
class Subprocess {
public:
    explicit Subprocess(const ProcessSpec& spec);
    ~Subprocess(); // kills the process group if the child was never waited for
    Subprocess(const Subprocess&) = delete;
    Subprocess& operator=(const Subprocess&) = delete;

    pid_t pid() const {
        return pid_;
    }
    // Reads the output until the child has exited and closed its pipes, or until the spec's
    // timeout counted from the start; on timeout the whole process group gets SIGKILL.
    ProcessResult wait();

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    bool waited_ = false;
    std::chrono::steady_clock::time_point deadline_;
};

ProcessResult run_process(const ProcessSpec& spec);

} // namespace memtrace::integration
