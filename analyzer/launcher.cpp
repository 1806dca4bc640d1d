#include "launcher.h"

#include "file_descriptor.h"
#include "memtrace/dump_format.h"
#include "memtrace_paths.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <system_error>
#include <time.h>
#include <unistd.h>

namespace memtrace::launcher {
namespace {

namespace fs = std::filesystem;

std::system_error errno_error(const std::string& what) {
    return std::system_error(errno, std::generic_category(), what);
}

bool is_readable_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), R_OK) == 0;
}

// The part of the configured install path from its lib directory on, e.g.
// "lib/x86_64-linux-gnu/memtrace/libmemtrace.so", so that an installed tree can be moved.
std::string install_path_below_prefix() {
    const fs::path installed = MEMTRACE_INSTALL_PRELOAD;
    fs::path tail;
    bool in_tail = false;
    for (const auto& part : installed.relative_path()) {
        const std::string name = part.string();
        if (name == "lib" || name == "lib64" || name == "lib32" || name == "libx32") in_tail = true;
        if (in_tail) tail /= part;
    }
    return tail.string();
}

// Reads exactly `size` bytes at `offset`; false on a short file or an error.
bool read_at(int fd, void* out, size_t size, off_t offset) {
    auto* bytes = static_cast<char*>(out);
    while (size > 0) {
        const ssize_t n = ::pread(fd, bytes, size, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        bytes += n;
        size -= static_cast<size_t>(n);
        offset += n;
    }
    return true;
}

template <typename T> void write_field_at(int fd, const T& value, off_t offset) {
    if (::pwrite(fd, &value, sizeof value, offset) != static_cast<ssize_t>(sizeof value)) {
        throw errno_error("cannot write the dump header");
    }
}

// Whether an ELF executable of class Ehdr/Phdr names an interpreter (the dynamic loader).
// std::nullopt when the program headers cannot be read or are not in the expected form.
template <typename Ehdr, typename Phdr> std::optional<bool> has_interpreter(int fd) {
    Ehdr header{};
    if (!read_at(fd, &header, sizeof header, 0)) return std::nullopt;
    if (header.e_type != ET_EXEC && header.e_type != ET_DYN) return std::nullopt;
    if (header.e_phentsize != sizeof(Phdr) || header.e_phnum == PN_XNUM) return std::nullopt;
    for (unsigned i = 0; i < header.e_phnum; ++i) {
        Phdr segment{};
        const off_t offset = static_cast<off_t>(header.e_phoff + i * sizeof(Phdr));
        if (!read_at(fd, &segment, sizeof segment, offset)) return std::nullopt;
        if (segment.p_type == PT_INTERP) return true;
    }
    return false;
}

// The forwarding handler reads the child's pid from here; 0 while there is no child to signal.
volatile sig_atomic_t g_forward_to_pid = 0;

void forward_signal(int signal) {
    const pid_t pid = g_forward_to_pid;
    if (pid > 0) ::kill(pid, signal);
}

// Sets memtrace's dispositions for the wait and puts the old ones back when destroyed.
class WaitSignalDispositions {
public:
    WaitSignalDispositions() {
        sigemptyset(&child_defaults_);
        for (size_t i = 0; i < std::size(kSignals); ++i) {
            const int signal = kSignals[i];
            ::sigaction(signal, nullptr, &saved_[i]);
            // A signal memtrace was started with ignored (nohup, a background job) stays
            // ignored for the child too, which inherits it.
            if (saved_[i].sa_handler == SIG_IGN) continue;
            struct sigaction action {};
            sigemptyset(&action.sa_mask);
            action.sa_flags = SA_RESTART;
            action.sa_handler = is_forwarded(signal) ? forward_signal : SIG_IGN;
            ::sigaction(signal, &action, nullptr);
            sigaddset(&child_defaults_, signal);
        }
    }
    ~WaitSignalDispositions() {
        for (size_t i = 0; i < std::size(kSignals); ++i) {
            ::sigaction(kSignals[i], &saved_[i], nullptr);
        }
    }
    WaitSignalDispositions(const WaitSignalDispositions&) = delete;
    WaitSignalDispositions& operator=(const WaitSignalDispositions&) = delete;

    // The signals the child must get back at their default action.
    const sigset_t& child_defaults() const {
        return child_defaults_;
    }

    static bool is_forwarded(int signal) {
        return signal == SIGTERM || signal == SIGHUP;
    }

private:
    static constexpr int kSignals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP};
    struct sigaction saved_[std::size(kSignals)]{};
    sigset_t child_defaults_{};
};

// Blocks the forwarded signals until the child's pid is known, so none is lost in between.
class ForwardedSignalsBlocked {
public:
    ForwardedSignalsBlocked() {
        sigset_t forwarded;
        sigemptyset(&forwarded);
        sigaddset(&forwarded, SIGTERM);
        sigaddset(&forwarded, SIGHUP);
        ::pthread_sigmask(SIG_BLOCK, &forwarded, &original_mask_);
    }
    ~ForwardedSignalsBlocked() {
        unblock();
    }
    ForwardedSignalsBlocked(const ForwardedSignalsBlocked&) = delete;
    ForwardedSignalsBlocked& operator=(const ForwardedSignalsBlocked&) = delete;

    void unblock() {
        if (blocked_) ::pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
        blocked_ = false;
    }
    const sigset_t& original_mask() const {
        return original_mask_;
    }

private:
    sigset_t original_mask_{};
    bool blocked_ = true;
};

class SpawnAttributes {
public:
    SpawnAttributes(const sigset_t& mask, const sigset_t& defaults) {
        ::posix_spawnattr_init(&attributes_);
        ::posix_spawnattr_setflags(&attributes_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        ::posix_spawnattr_setsigmask(&attributes_, &mask);
        ::posix_spawnattr_setsigdefault(&attributes_, &defaults);
    }
    ~SpawnAttributes() {
        ::posix_spawnattr_destroy(&attributes_);
    }
    SpawnAttributes(const SpawnAttributes&) = delete;
    SpawnAttributes& operator=(const SpawnAttributes&) = delete;
    const posix_spawnattr_t* get() const {
        return &attributes_;
    }

private:
    posix_spawnattr_t attributes_{};
};

std::vector<char*> to_pointers(const std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (const auto& s : strings)
        pointers.push_back(const_cast<char*>(s.c_str()));
    pointers.push_back(nullptr);
    return pointers;
}

} // namespace

std::vector<std::string> preload_library_candidates(const std::string& exe_path) {
    std::vector<std::string> candidates;
    auto add = [&candidates](const fs::path& path) {
        const std::string normal = path.lexically_normal().string();
        if (std::find(candidates.begin(), candidates.end(), normal) == candidates.end()) {
            candidates.push_back(normal);
        }
    };
    if (!exe_path.empty()) {
        const fs::path prefix = fs::path(exe_path).parent_path().parent_path();
        add(prefix / "preload" / "libmemtrace.so");
        if (const std::string tail = install_path_below_prefix(); !tail.empty()) add(prefix / tail);
        add(prefix / "lib" / "memtrace" / "libmemtrace.so");
    }
    add(MEMTRACE_BUILD_PRELOAD);
    add(MEMTRACE_INSTALL_PRELOAD);
    return candidates;
}

std::string find_preload_library() {
    if (const char* configured = std::getenv("MEMTRACE_LIBRARY"); configured && *configured) {
        if (is_readable_file(configured)) return configured;
        throw LaunchError(kExitLaunchFailed, std::string("MEMTRACE_LIBRARY names ") + configured +
                                                 ", which is not a readable file");
    }
    std::error_code error;
    const fs::path exe = fs::read_symlink("/proc/self/exe", error);
    const auto candidates = preload_library_candidates(error ? std::string() : exe.string());
    for (const auto& candidate : candidates) {
        if (is_readable_file(candidate)) return candidate;
    }
    std::string tried;
    for (const auto& candidate : candidates)
        tried += (tried.empty() ? "" : ", ") + candidate;
    throw LaunchError(kExitLaunchFailed, "cannot find libmemtrace.so (tried " + tried +
                                             "); set MEMTRACE_LIBRARY to its path");
}

std::string resolve_program(const std::string& name, const char* path_env) {
    // Like execve: EACCES for something that exists but cannot be run, else ENOENT.
    auto check = [](const std::string& path) -> int {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) return errno == EACCES ? EACCES : ENOENT;
        if (!S_ISREG(st.st_mode)) return EACCES;
        if (::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) != 0) return EACCES;
        return 0;
    };
    if (name.empty()) throw LaunchError(kExitNotFound, "no program given");

    if (name.find('/') != std::string::npos) {
        const int error = check(name);
        if (error == 0) return name;
        if (error == EACCES) throw LaunchError(kExitNotExecutable, name + ": not executable");
        throw LaunchError(kExitNotFound, name + ": no such file");
    }

    const std::string search_path = path_env ? path_env : "/bin:/usr/bin";
    bool found_unexecutable = false;
    size_t begin = 0;
    while (true) {
        const size_t end = search_path.find(':', begin);
        std::string directory = search_path.substr(begin, end - begin);
        if (directory.empty())
            directory.push_back('.'); // an empty PATH entry: the working directory
        const std::string candidate = directory + "/" + name;
        const int error = check(candidate);
        if (error == 0) return candidate;
        if (error == EACCES) found_unexecutable = true;
        if (end == std::string::npos) break;
        begin = end + 1;
    }
    if (found_unexecutable) throw LaunchError(kExitNotExecutable, name + ": not executable");
    throw LaunchError(kExitNotFound, name + ": command not found");
}

ExecutableImage inspect_executable(const std::string& path) {
    ExecutableImage image;
    const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    // An execute-only file cannot be inspected; execve will still run it.
    if (fd.get() < 0) return image;

    struct stat st {};
    if (::fstat(fd.get(), &st) == 0) {
        image.setid = ((st.st_mode & S_ISUID) && st.st_uid != ::getuid()) ||
                      ((st.st_mode & S_ISGID) && st.st_gid != ::getgid());
    }

    unsigned char ident[EI_NIDENT] = {};
    const ssize_t n = ::pread(fd.get(), ident, sizeof ident, 0);
    if (n >= 2 && ident[0] == '#' && ident[1] == '!') {
        image.kind = ExecutableImage::Kind::Script;
        return image;
    }
    if (n < static_cast<ssize_t>(sizeof ident) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
        return image;
    }

    image.elf_class = ident[EI_CLASS];
    Elf32_Half machine = 0;
    if (read_at(fd.get(), &machine, sizeof machine, offsetof(Elf64_Ehdr, e_machine))) {
        image.machine = machine;
    }
    // Headers of the other byte order cannot belong to a program this machine runs natively.
    constexpr unsigned char kNativeData =
        std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
    if (ident[EI_DATA] != kNativeData) return image;

    std::optional<bool> interpreter;
    if (image.elf_class == ELFCLASS64)
        interpreter = has_interpreter<Elf64_Ehdr, Elf64_Phdr>(fd.get());
    if (image.elf_class == ELFCLASS32)
        interpreter = has_interpreter<Elf32_Ehdr, Elf32_Phdr>(fd.get());
    if (interpreter) {
        image.kind =
            *interpreter ? ExecutableImage::Kind::DynamicElf : ExecutableImage::Kind::StaticElf;
    }
    return image;
}

std::string compose_ld_preload(const std::string& library, const char* existing) {
    if (!existing || !*existing) return library;
    return library + ":" + existing;
}

std::vector<std::string>
compose_environment(const char* const* environment,
                    const std::vector<std::pair<std::string, std::string>>& overrides) {
    std::vector<std::string> result;
    for (const char* const* entry = environment; entry && *entry; ++entry) {
        const std::string_view variable(*entry);
        const std::string_view name = variable.substr(0, variable.find('='));
        const bool overridden = std::any_of(overrides.begin(), overrides.end(),
                                            [&](const auto& o) { return o.first == name; });
        if (!overridden) result.emplace_back(variable);
    }
    for (const auto& [name, value] : overrides)
        result.push_back(name + "=" + value);
    return result;
}

std::vector<ReportedDump> parse_report_paths(std::string_view text) {
    std::vector<ReportedDump> dumps;
    while (!text.empty()) {
        const size_t newline = text.find('\n');
        if (newline == std::string_view::npos) break; // a line without its end was torn
        const std::string_view line = text.substr(0, newline);
        text.remove_prefix(newline + 1);

        const size_t space = line.find(' ');
        if (space == 0 || space == std::string_view::npos || space + 1 >= line.size()) continue;
        const std::string_view digits = line.substr(0, space);
        if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(),
                                              [](char c) { return c >= '0' && c <= '9'; })) {
            continue;
        }
        const pid_t pid = static_cast<pid_t>(std::stol(std::string(digits)));
        if (pid <= 0) continue;
        dumps.push_back({pid, std::string(line.substr(space + 1))});
    }
    return dumps;
}

RunDumps classify_dumps(const std::vector<ReportedDump>& reported, pid_t child_pid) {
    RunDumps result;
    const auto last = std::find_if(reported.rbegin(), reported.rend(),
                                   [child_pid](const auto& d) { return d.pid == child_pid; });
    const auto main = last == reported.rend() ? reported.end() : std::prev(last.base());
    for (auto it = reported.begin(); it != reported.end(); ++it) {
        if (it == main) {
            result.main = *it;
        } else {
            result.others.push_back(*it);
        }
    }
    return result;
}

EndPatch record_killed_end(const std::string& dump_path, int signal, uint64_t now_monotonic_ns) {
    using format::FileHeader;
    const FileDescriptor fd(::open(dump_path.c_str(), O_RDWR | O_CLOEXEC));
    if (fd.get() < 0) throw errno_error("cannot open " + dump_path);

    FileHeader header{};
    if (!read_at(fd.get(), &header, sizeof header, 0) ||
        std::memcmp(header.magic, format::kDumpMagic, sizeof header.magic) != 0 ||
        header.endian_tag != format::kEndianTag) {
        return EndPatch::NotADump;
    }
    if (header.end_writer == static_cast<uint32_t>(format::EndWriter::Preload)) {
        return EndPatch::PreloadEnded;
    }
    // Field by field, so exit_code and clean keep whatever the file holds.
    write_field_at(fd.get(), static_cast<uint32_t>(format::EndReason::Killed),
                   offsetof(FileHeader, end_reason));
    write_field_at(fd.get(), static_cast<int32_t>(signal), offsetof(FileHeader, signal));
    write_field_at(fd.get(), now_monotonic_ns, offsetof(FileHeader, end_monotonic_ns));
    write_field_at(fd.get(), static_cast<uint32_t>(format::EndWriter::Launcher),
                   offsetof(FileHeader, end_writer));
    return EndPatch::Written;
}

TemporaryFile::TemporaryFile(const std::string& prefix) {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string pattern =
        (tmpdir && *tmpdir ? std::string(tmpdir) : std::string("/tmp")) + "/" + prefix + "XXXXXX";
    const int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0) throw errno_error("cannot create a temporary file " + pattern);
    ::close(fd);
    path_ = std::move(pattern);
}

TemporaryFile::~TemporaryFile() {
    remove();
}

std::string TemporaryFile::read_all() const {
    std::ifstream in(path_, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void TemporaryFile::remove() {
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
}

ChildExit run_and_wait(const std::string& program_path, const std::vector<std::string>& argv,
                       const std::vector<std::string>& envp) {
    ForwardedSignalsBlocked blocked;
    const WaitSignalDispositions dispositions;
    const SpawnAttributes attributes(blocked.original_mask(), dispositions.child_defaults());

    auto spawn = [&](const std::string& path, const std::vector<std::string>& arguments,
                     pid_t& pid) {
        const auto argument_pointers = to_pointers(arguments);
        const auto environment_pointers = to_pointers(envp);
        return ::posix_spawn(&pid, path.c_str(), nullptr, attributes.get(),
                             argument_pointers.data(), environment_pointers.data());
    };

    pid_t pid = 0;
    int error = spawn(program_path, argv, pid);
    if (error == ENOEXEC) {
        // execvp's rule: a file the kernel does not recognise is a shell script.
        std::vector<std::string> shell_argv{"/bin/sh", program_path};
        shell_argv.insert(shell_argv.end(), argv.begin() + std::min<size_t>(1, argv.size()),
                          argv.end());
        error = spawn("/bin/sh", shell_argv, pid);
    }
    if (error != 0) {
        const std::string message = program_path + ": " + std::strerror(error);
        if (error == ENOENT || error == ENOTDIR) throw LaunchError(kExitNotFound, message);
        if (error == EACCES || error == EPERM || error == ENOEXEC) {
            throw LaunchError(kExitNotExecutable, message);
        }
        throw LaunchError(kExitLaunchFailed, message);
    }
    g_forward_to_pid = pid;
    blocked.unblock();

    // Wait without reaping first: while the child is a zombie its pid cannot be reused, so the
    // forwarding handler never signals a stranger.
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0) {
        if (errno != EINTR) throw errno_error("waitid");
    }
    g_forward_to_pid = 0;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw errno_error("waitpid");
    }

    ChildExit result;
    result.pid = pid;
    if (WIFSIGNALED(status)) {
        result.signaled = true;
        result.signal = WTERMSIG(status);
    } else {
        result.code = WEXITSTATUS(status);
    }
    return result;
}

int shell_status(const ChildExit& exit) {
    return exit.signaled ? 128 + exit.signal : exit.code;
}

void terminate_by_signal(int signal) {
    // The program's core file (if any) is the useful one; memtrace's would only overwrite it.
    struct rlimit limit {};
    if (::getrlimit(RLIMIT_CORE, &limit) == 0) {
        limit.rlim_cur = 0;
        ::setrlimit(RLIMIT_CORE, &limit);
    }
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); // also stops core_pattern pipes, which ignore the limit
    std::fflush(nullptr);

    struct sigaction action {};
    sigemptyset(&action.sa_mask);
    action.sa_handler = SIG_DFL;
    ::sigaction(signal, &action, nullptr);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal);
    ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    ::raise(signal);
    ::_exit(128 + signal);
}

uint64_t monotonic_now_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<uint64_t>(now.tv_sec) * 1000000000u + static_cast<uint64_t>(now.tv_nsec);
}

} // namespace memtrace::launcher
