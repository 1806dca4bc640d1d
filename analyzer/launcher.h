// The mechanics of `memtrace run`: find libmemtrace.so, check that the program can be traced,
// start it with LD_PRELOAD, wait for it while passing signals on, and learn which dumps its
// process tree wrote. The user-facing messages live in cli/run.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace memtrace::launcher {

// Exit codes of `memtrace run` when the program itself never ran (the shell's conventions).
inline constexpr int kExitLaunchFailed = 125;
inline constexpr int kExitNotExecutable = 126;
inline constexpr int kExitNotFound = 127;

// A reason the program could not be started, with the exit code that says so.
class LaunchError : public std::runtime_error {
public:
    LaunchError(int exit_code, const std::string& message)
        : std::runtime_error(message), exit_code_(exit_code) {
    }
    int exit_code() const {
        return exit_code_;
    }

private:
    int exit_code_;
};

// Where libmemtrace.so may be, in the order tried, for a memtrace executable at exe_path:
// the build tree (<exe dir>/../preload), the installed layout (<exe dir>/../<libdir>/memtrace),
// then the absolute paths configured at build time.
std::vector<std::string> preload_library_candidates(const std::string& exe_path);

// MEMTRACE_LIBRARY if set (it must exist), else the first readable candidate for the running
// executable. Throws LaunchError(kExitLaunchFailed) when there is none.
std::string find_preload_library();

// Finds the program as execvp would: a name with a slash is taken as is, any other is searched
// in PATH (path_env; nullptr means unset, so the default /bin:/usr/bin). Throws LaunchError with
// kExitNotFound or kExitNotExecutable.
std::string resolve_program(const std::string& name, const char* path_env);

// What the first bytes of an executable file say about it.
struct ExecutableImage {
    enum class Kind {
        DynamicElf, // ELF with PT_INTERP: the dynamic loader runs it and honours LD_PRELOAD
        StaticElf,  // ELF executable without PT_INTERP: nothing reads LD_PRELOAD
        Script,     // starts with #!
        Other,      // anything else (left for execve to accept or refuse)
    };
    Kind kind = Kind::Other;
    int elf_class = 0;    // ELFCLASS32 or ELFCLASS64 for ELF files, else 0
    uint16_t machine = 0; // e_machine for ELF files
    bool setid = false;   // setuid/setgid bit that makes the loader ignore LD_PRELOAD for us
};

// Never throws: a file that cannot be read is Kind::Other (execve will have the last word).
ExecutableImage inspect_executable(const std::string& path);

// LD_PRELOAD for the child: memtrace's library first, existing entries kept after it.
std::string compose_ld_preload(const std::string& library, const char* existing);

// "NAME=value" for every variable of `environment`, with `overrides` replacing or adding theirs.
std::vector<std::string>
compose_environment(const char* const* environment,
                    const std::vector<std::pair<std::string, std::string>>& overrides);

// One line of the MEMTRACE_REPORT_PATHS file: a traced process and the dump it created.
struct ReportedDump {
    pid_t pid = 0;
    std::string path;
    bool operator==(const ReportedDump&) const = default;
};

// Parses "<pid> <path>\n" lines; malformed lines (e.g. a torn last line) are skipped.
std::vector<ReportedDump> parse_report_paths(std::string_view text);

struct RunDumps {
    std::optional<ReportedDump> main; // the last dump of the child's pid: its final image
    std::vector<ReportedDump> others; // descendants, and the child's images before an exec
};
RunDumps classify_dumps(const std::vector<ReportedDump>& reported, pid_t child_pid);

// The outcome of writing the end of a dump whose process died by a signal.
enum class EndPatch {
    Written,      // end_reason Killed, signal, end_writer Launcher, end time written
    PreloadEnded, // the preload had already written the end; left as it was
    NotADump,     // no dump header (too short or wrong magic); left as it was
};

// Records in the dump header that its process was killed by `signal` at now_monotonic_ns,
// unless the preload wrote the end itself. Never touches `clean`. Throws std::system_error
// on I/O errors.
EndPatch record_killed_end(const std::string& dump_path, int signal, uint64_t now_monotonic_ns);

// A file created empty for the traced processes to append to; removed on destruction.
class TemporaryFile {
public:
    // Creates <$TMPDIR or /tmp>/<prefix>XXXXXX. Throws std::system_error.
    explicit TemporaryFile(const std::string& prefix);
    ~TemporaryFile();
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;

    const std::string& path() const {
        return path_;
    }
    std::string read_all() const;
    void remove();

private:
    std::string path_;
};

// How the child ended.
struct ChildExit {
    pid_t pid = 0;
    bool signaled = false;
    int code = 0;   // exit status when !signaled
    int signal = 0; // terminating signal when signaled
};

// Starts `program_path` with argv and envp (each "NAME=value"), then waits for it. Meanwhile
// SIGINT and SIGQUIT are ignored (the terminal sends them to the child too) and SIGTERM and
// SIGHUP are forwarded to the child. The child starts with the signal mask and dispositions
// memtrace had. A file execve refuses as not executable is run with /bin/sh, as execvp does.
// Throws LaunchError if the program cannot be started.
ChildExit run_and_wait(const std::string& program_path, const std::vector<std::string>& argv,
                       const std::vector<std::string>& envp);

// The exit status a shell would report: the code, or 128 + signal.
int shell_status(const ChildExit& exit);

// Ends this process by `signal`, without leaving a core file; exits 128 + signal if the signal
// does not end it.
[[noreturn]] void terminate_by_signal(int signal);

uint64_t monotonic_now_ns();

} // namespace memtrace::launcher
