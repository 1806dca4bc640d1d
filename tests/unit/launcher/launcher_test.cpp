// The pieces of `memtrace run` that do not need the preload: finding the library and the
// program, telling static from dynamic executables, the child's environment, the report-paths
// file, the header patch after a kill, starting and waiting with signals, and dying by a signal.
#include "launcher.h"
#include "memtrace/dump_format.h"
#include "memtrace_paths.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <iterator>
#include <optional>
#include <signal.h>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

namespace memtrace::launcher {
namespace {

namespace fs = std::filesystem;

class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "launcher-test-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::system_error(errno, std::generic_category());
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string file(const std::string& name, const std::string& contents,
                     fs::perms permissions = fs::perms::owner_read | fs::perms::owner_write) const {
        const fs::path path = path_ / name;
        fs::create_directories(path.parent_path());
        std::ofstream(path, std::ios::binary) << contents;
        fs::permissions(path, permissions);
        return path.string();
    }
    std::string executable(const std::string& name, const std::string& contents = "#!/bin/sh\n") {
        return file(name, contents, fs::perms::owner_all);
    }
    std::string path() const {
        return path_.string();
    }

private:
    fs::path path_;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_launch_error(int expected_code, const std::function<void()>& action) {
    try {
        action();
        ADD_FAILURE() << "expected LaunchError " << expected_code;
    } catch (const LaunchError& e) {
        EXPECT_EQ(e.exit_code(), expected_code) << e.what();
    }
}

// Sets an environment variable for one test and puts the old value back.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~ScopedEnv() {
        if (old_) {
            ::setenv(name_.c_str(), old_->c_str(), 1);
        } else {
            ::unsetenv(name_.c_str());
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string name_;
    std::optional<std::string> old_;
};

// ---- finding libmemtrace.so ----------------------------------------------------------------

TEST(PreloadLibraryCandidates, BuildTreeThenInstalledLayoutThenConfiguredPaths) {
    const auto candidates = preload_library_candidates("/opt/mt/analyzer/memtrace");
    ASSERT_GE(candidates.size(), 3u);
    EXPECT_EQ(candidates[0], "/opt/mt/preload/libmemtrace.so");
    // The installed layout: the configured libdir, moved below the executable's prefix.
    EXPECT_TRUE(candidates[1].starts_with("/opt/mt/lib")) << candidates[1];
    EXPECT_TRUE(candidates[1].ends_with("memtrace/libmemtrace.so")) << candidates[1];
    EXPECT_EQ(candidates[candidates.size() - 2], MEMTRACE_BUILD_PRELOAD);
    EXPECT_EQ(candidates.back(), MEMTRACE_INSTALL_PRELOAD);
}

TEST(PreloadLibraryCandidates, WithoutExecutablePathOnlyConfiguredPaths) {
    const auto candidates = preload_library_candidates("");
    ASSERT_EQ(candidates.size(), 2u);
    EXPECT_EQ(candidates[0], MEMTRACE_BUILD_PRELOAD);
    EXPECT_EQ(candidates[1], MEMTRACE_INSTALL_PRELOAD);
}

TEST(FindPreloadLibrary, HonoursMemtraceLibrary) {
    TempDir dir;
    const std::string library = dir.file("custom/libmemtrace.so", "not really a library");
    ScopedEnv env("MEMTRACE_LIBRARY", library.c_str());
    EXPECT_EQ(find_preload_library(), library);
}

TEST(FindPreloadLibrary, MissingMemtraceLibraryIsAnErrorNotAFallback) {
    ScopedEnv env("MEMTRACE_LIBRARY", "/nonexistent/libmemtrace.so");
    expect_launch_error(kExitLaunchFailed, [] { find_preload_library(); });
}

// ---- resolving the program like execvp ------------------------------------------------------

TEST(ResolveProgram, NameWithSlashIsTakenAsIs) {
    TempDir dir;
    const std::string tool = dir.executable("tool");
    EXPECT_EQ(resolve_program(tool, "/nonexistent"), tool);
}

TEST(ResolveProgram, SearchesPathInOrder) {
    TempDir dir;
    dir.executable("a/tool");
    dir.executable("b/tool");
    const std::string path = dir.path() + "/missing:" + dir.path() + "/a:" + dir.path() + "/b";
    EXPECT_EQ(resolve_program("tool", path.c_str()), dir.path() + "/a/tool");
}

TEST(ResolveProgram, SkipsUnexecutableFilesAndDirectoriesOnPath) {
    TempDir dir;
    dir.file("a/tool", "#!/bin/sh\n"); // not executable
    fs::create_directories(fs::path(dir.path()) / "b" / "tool");
    dir.executable("c/tool");
    const std::string path = dir.path() + "/a:" + dir.path() + "/b:" + dir.path() + "/c";
    EXPECT_EQ(resolve_program("tool", path.c_str()), dir.path() + "/c/tool");
}

TEST(ResolveProgram, OnlyUnexecutableMatchesGive126) {
    TempDir dir;
    dir.file("a/tool", "#!/bin/sh\n");
    const std::string path = dir.path() + "/a";
    expect_launch_error(kExitNotExecutable, [&] { resolve_program("tool", path.c_str()); });
    expect_launch_error(kExitNotExecutable, [&] { resolve_program(dir.path() + "/a/tool", ""); });
    expect_launch_error(kExitNotExecutable, [&] { resolve_program(dir.path(), ""); });
}

TEST(ResolveProgram, MissingGives127) {
    TempDir dir;
    const std::string path = dir.path();
    expect_launch_error(kExitNotFound, [&] { resolve_program("no-such-tool", path.c_str()); });
    expect_launch_error(kExitNotFound, [&] { resolve_program(dir.path() + "/nothing", ""); });
    expect_launch_error(kExitNotFound, [&] { resolve_program("", path.c_str()); });
}

TEST(ResolveProgram, UnsetPathMeansBinAndUsrBin) {
    EXPECT_EQ(resolve_program("sh", nullptr), "/bin/sh");
}

// ---- static, dynamic, script ----------------------------------------------------------------

// A minimal ELF file of the given class whose program headers are `types`.
template <typename Ehdr, typename Phdr>
std::string elf_image(unsigned char elf_class, uint16_t type, std::vector<uint32_t> types) {
    Ehdr header{};
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = elf_class;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = type;
    header.e_machine = EM_X86_64;
    header.e_phoff = sizeof(Ehdr);
    header.e_phentsize = sizeof(Phdr);
    header.e_phnum = static_cast<uint16_t>(types.size());
    std::string bytes(reinterpret_cast<const char*>(&header), sizeof header);
    for (uint32_t t : types) {
        Phdr segment{};
        segment.p_type = t;
        bytes.append(reinterpret_cast<const char*>(&segment), sizeof segment);
    }
    return bytes;
}

using Kind = ExecutableImage::Kind;

TEST(InspectExecutable, ElfWithInterpreterIsDynamic) {
    TempDir dir;
    const auto path = dir.executable("dyn", elf_image<Elf64_Ehdr, Elf64_Phdr>(
                                                ELFCLASS64, ET_DYN, {PT_PHDR, PT_INTERP, PT_LOAD}));
    const ExecutableImage image = inspect_executable(path);
    EXPECT_EQ(image.kind, Kind::DynamicElf);
    EXPECT_EQ(image.elf_class, ELFCLASS64);
    EXPECT_EQ(image.machine, EM_X86_64);
    EXPECT_FALSE(image.setid);
}

TEST(InspectExecutable, ElfWithoutInterpreterIsStatic) {
    TempDir dir;
    const auto exec = dir.executable(
        "exec", elf_image<Elf64_Ehdr, Elf64_Phdr>(ELFCLASS64, ET_EXEC, {PT_LOAD, PT_NOTE}));
    EXPECT_EQ(inspect_executable(exec).kind, Kind::StaticElf);
    const auto pie = dir.executable(
        "pie", elf_image<Elf64_Ehdr, Elf64_Phdr>(ELFCLASS64, ET_DYN, {PT_LOAD, PT_DYNAMIC}));
    EXPECT_EQ(inspect_executable(pie).kind, Kind::StaticElf);
}

TEST(InspectExecutable, ThirtyTwoBitElf) {
    TempDir dir;
    const auto dynamic = dir.executable(
        "dyn32", elf_image<Elf32_Ehdr, Elf32_Phdr>(ELFCLASS32, ET_EXEC, {PT_INTERP, PT_LOAD}));
    EXPECT_EQ(inspect_executable(dynamic).kind, Kind::DynamicElf);
    EXPECT_EQ(inspect_executable(dynamic).elf_class, ELFCLASS32);
    const auto fixed = dir.executable(
        "static32", elf_image<Elf32_Ehdr, Elf32_Phdr>(ELFCLASS32, ET_EXEC, {PT_LOAD}));
    EXPECT_EQ(inspect_executable(fixed).kind, Kind::StaticElf);
}

TEST(InspectExecutable, MalformedElfIsLeftToExecve) {
    TempDir dir;
    std::string image =
        elf_image<Elf64_Ehdr, Elf64_Phdr>(ELFCLASS64, ET_EXEC, {PT_LOAD, PT_INTERP});
    // Program headers cut off: no verdict rather than a wrong "static".
    const auto truncated = dir.executable("cut", image.substr(0, sizeof(Elf64_Ehdr) + 8));
    EXPECT_EQ(inspect_executable(truncated).kind, Kind::Other);
    const auto object =
        dir.executable("object", elf_image<Elf64_Ehdr, Elf64_Phdr>(ELFCLASS64, ET_REL, {}));
    EXPECT_EQ(inspect_executable(object).kind, Kind::Other);
    const auto tiny = dir.executable("tiny", "\x7f"
                                             "EL");
    EXPECT_EQ(inspect_executable(tiny).kind, Kind::Other);
}

TEST(InspectExecutable, ScriptsAndOtherFiles) {
    TempDir dir;
    EXPECT_EQ(inspect_executable(dir.executable("script", "#!/bin/sh\nexit 0\n")).kind,
              Kind::Script);
    EXPECT_EQ(inspect_executable(dir.executable("plain", "exit 0\n")).kind, Kind::Other);
    EXPECT_EQ(inspect_executable(dir.executable("empty", "")).kind, Kind::Other);
    EXPECT_EQ(inspect_executable(dir.path() + "/missing").kind, Kind::Other);
}

TEST(InspectExecutable, RealExecutablesFromTheToolchain) {
    EXPECT_EQ(inspect_executable(STATIC_FIXTURE_PATH).kind, Kind::StaticElf);
    EXPECT_EQ(inspect_executable(STATIC_PIE_FIXTURE_PATH).kind, Kind::StaticElf);
    const ExecutableImage self = inspect_executable("/proc/self/exe");
    EXPECT_EQ(self.kind, Kind::DynamicElf);
    EXPECT_EQ(self.elf_class, sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32);
}

TEST(InspectExecutable, SetuidBitOfAnotherOwnerIsReported) {
    TempDir dir;
    const auto path = dir.executable("suid", "#!/bin/sh\n");
    ASSERT_EQ(::chmod(path.c_str(), 04755), 0);
    // Our own setuid file changes nothing: the loader trusts LD_PRELOAD when ruid == euid.
    EXPECT_FALSE(inspect_executable(path).setid);
    if (::geteuid() == 0) {
        ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
        ASSERT_EQ(::chmod(path.c_str(), 04755), 0); // chown clears the bit
        EXPECT_TRUE(inspect_executable(path).setid);
    }
}

// ---- the child's environment ----------------------------------------------------------------

TEST(ComposeLdPreload, MemtraceFirstExistingKept) {
    EXPECT_EQ(compose_ld_preload("/lib/mt.so", nullptr), "/lib/mt.so");
    EXPECT_EQ(compose_ld_preload("/lib/mt.so", ""), "/lib/mt.so");
    EXPECT_EQ(compose_ld_preload("/lib/mt.so", "/x/a.so /x/b.so"), "/lib/mt.so:/x/a.so /x/b.so");
}

TEST(ComposeEnvironment, OverridesReplaceOrAppendOthersKeptInOrder) {
    const char* environment[] = {"HOME=/root", "LD_PRELOAD=/x/a.so", "LD_PRELOAD_X=keep",
                                 "EMPTY=",     "NOEQUALS",           "MEMTRACE_DEPTH=3",
                                 nullptr};
    const auto result = compose_environment(
        environment, {{"LD_PRELOAD", "/mt.so:/x/a.so"}, {"MEMTRACE_REPORT_PATHS", "/tmp/r"}});
    const std::vector<std::string> expected{"HOME=/root",
                                            "LD_PRELOAD_X=keep",
                                            "EMPTY=",
                                            "NOEQUALS",
                                            "MEMTRACE_DEPTH=3",
                                            "LD_PRELOAD=/mt.so:/x/a.so",
                                            "MEMTRACE_REPORT_PATHS=/tmp/r"};
    EXPECT_EQ(result, expected);
}

// ---- the report-paths file ------------------------------------------------------------------

TEST(ParseReportPaths, OneDumpPerLine) {
    const auto dumps = parse_report_paths("100 /tmp/a.mtd\n101 /tmp/dir with space/b.mtd\n");
    const std::vector<ReportedDump> expected{{100, "/tmp/a.mtd"},
                                             {101, "/tmp/dir with space/b.mtd"}};
    EXPECT_EQ(dumps, expected);
}

TEST(ParseReportPaths, SkipsMalformedAndTornLines) {
    const auto dumps = parse_report_paths("\n"
                                          "abc /tmp/x.mtd\n"
                                          "0 /tmp/zero.mtd\n"
                                          " /tmp/nopid.mtd\n"
                                          "12\n"
                                          "13 \n"
                                          "-5 /tmp/negative.mtd\n"
                                          "99999999999 /tmp/huge.mtd\n"
                                          "7 /tmp/good.mtd\n"
                                          "8 /tmp/torn");
    const std::vector<ReportedDump> expected{{7, "/tmp/good.mtd"}};
    EXPECT_EQ(dumps, expected);
    EXPECT_TRUE(parse_report_paths("").empty());
}

TEST(ClassifyDumps, MainIsTheLastDumpOfTheChild) {
    const std::vector<ReportedDump> reported{
        {50, "/d/sh.50.mtd"},      // the child before exec
        {51, "/d/ls.51.mtd"},      // a fork child
        {50, "/d/app.50.mtd"},     // the child after exec: the main dump
        {52, "/d/helper.52.mtd"}}; // a grandchild
    const RunDumps dumps = classify_dumps(reported, 50);
    ASSERT_TRUE(dumps.main.has_value());
    EXPECT_EQ(*dumps.main, (ReportedDump{50, "/d/app.50.mtd"}));
    const std::vector<ReportedDump> others{
        {50, "/d/sh.50.mtd"}, {51, "/d/ls.51.mtd"}, {52, "/d/helper.52.mtd"}};
    EXPECT_EQ(dumps.others, others);
}

TEST(ClassifyDumps, NoDumpOfTheChild) {
    const RunDumps dumps = classify_dumps({{51, "/d/child.mtd"}}, 50);
    EXPECT_FALSE(dumps.main.has_value());
    ASSERT_EQ(dumps.others.size(), 1u);
    EXPECT_FALSE(classify_dumps({}, 50).main.has_value());
}

TEST(TemporaryFile, CreatedEmptyReadBackAndRemoved) {
    std::string path;
    {
        TemporaryFile file("launcher-test-");
        path = file.path();
        EXPECT_TRUE(fs::is_regular_file(path));
        EXPECT_EQ(file.read_all(), "");
        std::ofstream(path, std::ios::app) << "1 /a\n";
        std::ofstream(path, std::ios::app) << "2 /b\n";
        EXPECT_EQ(file.read_all(), "1 /a\n2 /b\n");
    }
    EXPECT_FALSE(fs::exists(path));
}

// ---- the header after a kill ----------------------------------------------------------------

format::FileHeader sample_header() {
    format::FileHeader header{};
    std::memcpy(header.magic, format::kDumpMagic, sizeof header.magic);
    header.format_version = format::kFormatVersion;
    header.header_size = format::kHeaderSize;
    header.endian_tag = format::kEndianTag;
    header.pointer_size = 8;
    header.chunk_size = format::kDefaultChunkSize;
    header.max_depth = 64;
    header.pid = 4242;
    header.ppid = 1;
    header.start_monotonic_ns = 1000;
    header.data_end = format::kHeaderSize;
    header.flags = format::kFlagForkChild;
    header.exit_code = 77; // nonsense on purpose: the patch must leave it alone
    header.clean = 0;
    return header;
}

std::string dump_bytes(const format::FileHeader& header) {
    std::string bytes(format::kHeaderSize + 64, '\x5a');
    std::memcpy(bytes.data(), &header, sizeof header);
    return bytes;
}

TEST(RecordKilledEnd, WritesTheEndFieldsOnly) {
    TempDir dir;
    const format::FileHeader before = sample_header();
    const std::string original = dump_bytes(before);
    const auto path = dir.file("a.mtd", original);

    EXPECT_EQ(record_killed_end(path, SIGKILL, 987654321), EndPatch::Written);

    const std::string patched = read_file(path);
    ASSERT_EQ(patched.size(), original.size());
    format::FileHeader after{};
    std::memcpy(&after, patched.data(), sizeof after);
    EXPECT_EQ(after.end_reason, static_cast<uint32_t>(format::EndReason::Killed));
    EXPECT_EQ(after.signal, SIGKILL);
    EXPECT_EQ(after.end_writer, static_cast<uint32_t>(format::EndWriter::Launcher));
    EXPECT_EQ(after.end_monotonic_ns, 987654321u);

    // Every other byte is unchanged, exit_code and clean included.
    std::string expected = original;
    std::memcpy(expected.data(), &after, sizeof after);
    format::FileHeader only_end_fields = before;
    only_end_fields.end_reason = after.end_reason;
    only_end_fields.signal = after.signal;
    only_end_fields.end_writer = after.end_writer;
    only_end_fields.end_monotonic_ns = after.end_monotonic_ns;
    std::memcpy(expected.data(), &only_end_fields, sizeof only_end_fields);
    EXPECT_EQ(patched, expected);
    EXPECT_EQ(after.exit_code, 77);
    EXPECT_EQ(after.clean, 0u);
}

TEST(RecordKilledEnd, LeavesAnEndThePreloadWrote) {
    TempDir dir;
    format::FileHeader header = sample_header();
    header.end_reason = static_cast<uint32_t>(format::EndReason::Signal);
    header.signal = SIGSEGV;
    header.end_writer = static_cast<uint32_t>(format::EndWriter::Preload);
    header.end_monotonic_ns = 5000;
    const std::string original = dump_bytes(header);
    const auto path = dir.file("a.mtd", original);
    EXPECT_EQ(record_killed_end(path, SIGKILL, 987654321), EndPatch::PreloadEnded);
    EXPECT_EQ(read_file(path), original);
}

TEST(RecordKilledEnd, RefusesWhatIsNotADump) {
    TempDir dir;
    const auto short_file = dir.file("short.mtd", std::string(50, '\0'));
    EXPECT_EQ(record_killed_end(short_file, SIGKILL, 1), EndPatch::NotADump);
    EXPECT_EQ(read_file(short_file), std::string(50, '\0'));

    format::FileHeader header = sample_header();
    header.magic[0] = 'X';
    const auto wrong_magic = dir.file("magic.mtd", dump_bytes(header));
    EXPECT_EQ(record_killed_end(wrong_magic, SIGKILL, 1), EndPatch::NotADump);
    EXPECT_EQ(read_file(wrong_magic), dump_bytes(header));

    EXPECT_THROW(record_killed_end(dir.path() + "/missing.mtd", SIGKILL, 1), std::system_error);
}

// ---- starting and waiting -------------------------------------------------------------------

std::vector<std::string> current_environment() {
    return compose_environment(environ, {});
}

ChildExit run_shell(const std::string& script, std::vector<std::string> env = {}) {
    if (env.empty()) env = current_environment();
    return run_and_wait("/bin/sh", {"sh", "-c", script}, env);
}

TEST(RunAndWait, PassesTheExitCode) {
    const ChildExit exit = run_shell("exit 42");
    EXPECT_GT(exit.pid, 0);
    EXPECT_FALSE(exit.signaled);
    EXPECT_EQ(exit.code, 42);
    EXPECT_EQ(shell_status(exit), 42);
}

TEST(RunAndWait, ReportsDeathBySignal) {
    const ChildExit exit = run_shell("kill -KILL $$");
    EXPECT_TRUE(exit.signaled);
    EXPECT_EQ(exit.signal, SIGKILL);
    EXPECT_EQ(shell_status(exit), 128 + SIGKILL);
}

TEST(RunAndWait, GivesTheChildExactlyTheEnvironmentAndArguments) {
    TempDir dir;
    const std::string out = dir.path() + "/env";
    const ChildExit exit = run_and_wait(
        "/bin/sh", {"sh", "-c", "env > \"$0\"; echo \"$1|$2\" >> \"$0\"", out, "a b", ""},
        {"ONLY=this", "PATH=/usr/bin:/bin"});
    EXPECT_EQ(exit.code, 0);
    std::istringstream lines(read_file(out));
    std::vector<std::string> seen;
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("PWD=") && !line.starts_with("SHLVL=") && !line.starts_with("_=")) {
            seen.push_back(line);
        }
    }
    std::sort(seen.begin(), seen.end()); // env prints in its own order
    const std::vector<std::string> expected{"ONLY=this", "PATH=/usr/bin:/bin", "a b|"};
    EXPECT_EQ(seen, expected);
}

TEST(RunAndWait, RunsAFileWithoutInterpreterLineWithTheShell) {
    TempDir dir;
    const auto script = dir.executable("plain", "exit 7\n");
    const ChildExit exit = run_and_wait(script, {script}, current_environment());
    EXPECT_EQ(exit.code, 7);
}

TEST(RunAndWait, UnstartableProgramIsALaunchError) {
    TempDir dir;
    expect_launch_error(kExitNotFound, [&] {
        run_and_wait(dir.path() + "/missing", {"missing"}, current_environment());
    });
    const auto data = dir.file("data", "exit 0\n");
    expect_launch_error(kExitNotExecutable,
                        [&] { run_and_wait(data, {data}, current_environment()); });
}

// Sends `signal` to this process, from another thread, once the child has created `started`;
// then creates `sent`.
std::thread signal_self_when_started(int signal, const std::string& started,
                                     const std::string& sent) {
    return std::thread([=] {
        for (int i = 0; i < 1000 && !fs::exists(started); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ::kill(::getpid(), signal);
        std::ofstream{sent};
    });
}

TEST(RunAndWait, ForwardsSigtermToTheChild) {
    TempDir dir;
    const std::string started = dir.path() + "/started";
    auto sender = signal_self_when_started(SIGTERM, started, dir.path() + "/sent");
    const ChildExit exit = run_shell("touch " + started + "; exec sleep 20");
    sender.join();
    EXPECT_TRUE(exit.signaled);
    EXPECT_EQ(exit.signal, SIGTERM);
    struct sigaction after {};
    ::sigaction(SIGTERM, nullptr, &after);
    EXPECT_EQ(after.sa_handler, SIG_DFL) << "the disposition is restored after the wait";
}

TEST(RunAndWait, IgnoresSigintWhileWaiting) {
    ::signal(SIGINT, SIG_DFL);
    TempDir dir;
    const std::string started = dir.path() + "/started";
    const std::string sent = dir.path() + "/sent";
    auto sender = signal_self_when_started(SIGINT, started, sent);
    // The child goes on until the signal has been sent to memtrace: it is not forwarded.
    const ChildExit exit = run_shell("touch " + started + "; while [ ! -e " + sent +
                                     " ]; do sleep 0.01; done; exit 3");
    sender.join();
    EXPECT_FALSE(exit.signaled);
    EXPECT_EQ(exit.code, 3);
    struct sigaction after {};
    ::sigaction(SIGINT, nullptr, &after);
    EXPECT_EQ(after.sa_handler, SIG_DFL);
}

// The child's ignored-signal mask, from /proc.
uint64_t ignored_signals_of_child() {
    TempDir dir;
    const std::string out = dir.path() + "/status";
    run_shell("grep SigIgn /proc/self/status > " + out);
    const std::string line = read_file(out);
    return std::stoull(line.substr(line.find(':') + 1), nullptr, 16);
}

bool in_mask(uint64_t mask, int signal) {
    return (mask >> (signal - 1)) & 1;
}

TEST(RunAndWait, ChildGetsMemtracesOwnDispositions) {
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGQUIT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGHUP, SIG_IGN); // as under nohup
    const uint64_t ignored = ignored_signals_of_child();
    ::signal(SIGHUP, SIG_DFL);
    EXPECT_FALSE(in_mask(ignored, SIGINT));
    EXPECT_FALSE(in_mask(ignored, SIGQUIT));
    EXPECT_FALSE(in_mask(ignored, SIGTERM));
    EXPECT_TRUE(in_mask(ignored, SIGHUP));
}

// ---- dying like the program -----------------------------------------------------------------

int status_of_child_terminated_by(int signal, bool block_first) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (block_first) {
            ::signal(signal, SIG_IGN);
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, signal);
            ::sigprocmask(SIG_BLOCK, &set, nullptr);
        }
        terminate_by_signal(signal);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return status;
}

TEST(TerminateBySignal, DiesByTheSignalWithoutCore) {
    const int status = status_of_child_terminated_by(SIGSEGV, false);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGSEGV);
    EXPECT_FALSE(WCOREDUMP(status));
}

TEST(TerminateBySignal, EvenWhenTheSignalWasIgnoredAndBlocked) {
    const int status = status_of_child_terminated_by(SIGINT, true);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGINT);
}

} // namespace
} // namespace memtrace::launcher
