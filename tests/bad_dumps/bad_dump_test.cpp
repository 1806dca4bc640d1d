// Hostile and damaged dumps through the real `memtrace` executable (MEMTRACE_EXE): each must be
// refused with exit code 1 and exactly one error line naming the problem (and, for problems
// inside the data, the byte offset), never a crash or a hang. The dumps are generated here, at
// test time, into a temporary directory. A second part feeds many damaged variants of a valid
// dump to the reader in-process, where the sanitizer builds watch every access.
#include "compact_events.h"
#include "compact_format.h"
#include "compact_sites.h"
#include "compact_writer.h"
#include "dump_builder.h"
#include "log_capture.h"
#include "reports/leak_report.h"
#include "reports/summary_report.h"
#include "zstd_frame.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace memtrace::test {
namespace {

namespace f = memtrace::format;
namespace fs = std::filesystem;
constexpr uint64_t T0 = DumpBuilder::kStartNs;

// Exit codes the sanitizers are told to use, so a sanitizer report is never mistaken for the
// analyzer's own exit code 1.
constexpr int kAsanExitCode = 86;
constexpr int kUbsanExitCode = 87;

struct RunResult {
    bool timed_out = false;
    bool signaled = false;
    int signal = 0;
    int exit_code = -1;
    std::string out;
    std::string err;

    std::string describe() const {
        std::ostringstream text;
        if (timed_out) text << "timed out; ";
        if (signaled)
            text << "killed by signal " << signal << "; ";
        else
            text << "exit code " << exit_code << "; ";
        text << "stdout:\n" << out.substr(0, 2000) << "\nstderr:\n" << err.substr(0, 4000);
        return text.str();
    }
};

std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

std::string memtrace_exe() {
    const char* exe = std::getenv("MEMTRACE_EXE");
    return exe != nullptr ? exe : "";
}

void append_option(const char* name, const char* options) {
    const char* old = std::getenv(name);
    std::string value = old != nullptr && *old != '\0' ? std::string(old) + ":" + options : options;
    setenv(name, value.c_str(), 1);
}

RunResult run_memtrace(const std::vector<std::string>& args, const fs::path& scratch) {
    const fs::path out_path = scratch / "stdout.txt";
    const fs::path err_path = scratch / "stderr.txt";
    const std::string exe = memtrace_exe();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(126);
        unsetenv("LD_PRELOAD");
        append_option("ASAN_OPTIONS", "exitcode=86");
        append_option("UBSAN_OPTIONS", "halt_on_error=1:exitcode=87:print_stacktrace=1");
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(exe.c_str()));
        for (const std::string& arg : args)
            argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        execv(exe.c_str(), argv.data());
        _exit(127);
    }
    RunResult result;
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (true) {
        const pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) break;
        if (done < 0 && errno != EINTR) throw std::runtime_error("waitpid failed");
        if (std::chrono::steady_clock::now() > deadline) {
            result.timed_out = true;
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    result.signaled = WIFSIGNALED(status);
    if (result.signaled) result.signal = WTERMSIG(status);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    result.out = read_all(out_path);
    result.err = read_all(err_path);
    return result;
}

class BadDumps : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_FALSE(memtrace_exe().empty()) << "MEMTRACE_EXE is not set (run through meson test)";
    }

    fs::path file(const std::string& name, const std::vector<uint8_t>& bytes) {
        const fs::path path = dir_ / name;
        write_file(path, bytes);
        return path;
    }
    fs::path file(const std::string& name, const DumpBuilder& dump) {
        return file(name, dump.bytes());
    }

    RunResult run(const std::vector<std::string>& args) {
        return run_memtrace(args, dir_.path());
    }

    // Every analyzer command refuses the dump: exit code 1, nothing on stdout, exactly one
    // line on stderr, an error naming the file and containing every one of `parts`.
    void expect_refused(const fs::path& dump, const std::vector<std::string>& parts) {
        const std::vector<std::vector<std::string>> commands = {
            {"leaks", dump.string()},     {"leaks", "--json", dump.string()},
            {"report", dump.string()},    {"report", "--json", dump.string()},
            {"histogram", dump.string()}, {"histogram", "--json", dump.string()},
            {"arenas", dump.string()},    {"arenas", "--json", dump.string()}};
        for (const std::vector<std::string>& command : commands) {
            SCOPED_TRACE("memtrace " + command[0] + (command.size() == 3 ? " --json" : ""));
            const RunResult result = run(command);
            ASSERT_FALSE(result.timed_out) << result.describe();
            ASSERT_FALSE(result.signaled) << result.describe();
            EXPECT_EQ(result.exit_code, 1) << result.describe();
            EXPECT_EQ(result.out, "") << result.describe();
            const std::vector<std::string> lines = lines_of(result.err);
            ASSERT_EQ(lines.size(), 1u) << result.describe();
            EXPECT_EQ(lines[0].rfind("memtrace: error: ", 0), 0u) << lines[0];
            EXPECT_NE(lines[0].find(dump.string()), std::string::npos) << lines[0];
            for (const std::string& part : parts) {
                EXPECT_NE(lines[0].find(part), std::string::npos)
                    << "expected \"" << part << "\" in: " << lines[0];
            }
        }
    }

    static std::string at_byte(uint64_t offset) {
        return "at byte " + std::to_string(offset) + ":";
    }

    TempDir dir_;
};

// A small valid dump: process info, a module, two stacks, a few allocations, two leaks. The
// module covers none of the frames, so the symbolizer never looks for its (absent) file.
DumpBuilder valid_dump() {
    DumpBuilder dump;
    dump.add_chunk(1, T0)
        .process_info(T0 + 1, "/usr/bin/victim", std::string("victim\0-v\0", 10))
        .module_load(T0 + 2, 1, 0x7f0000000000, 0x7f0000000000, 0x7f0000100000, "\xaa\xbb",
                     "/nonexistent/libvictim.so")
        .stack(T0 + 3, 1, {0x401000, 0x402000})
        .alloc(T0 + 4, 0x10000, 64, 1)
        .alloc(T0 + 5, 0x20000, 128, 1);
    dump.add_chunk(2, T0)
        .stack(T0 + 6, 2, {0x403000}, true)
        .alloc(T0 + 7, 0x30000, 256, 2, f::AllocFunction::Calloc)
        .free(T0 + 8, 0x10000)
        .free(T0 + 9, 0x30000);
    return dump;
}

// One chunk holding `records` as raw bytes after a valid stack 1.
DumpBuilder dump_with_raw_record(const std::vector<uint8_t>& record) {
    DumpBuilder dump;
    dump.add_chunk(1, T0).stack(T0, 1, {0x401000}).raw(record);
    return dump;
}

TEST_F(BadDumps, ValidDumpIsAccepted) {
    const fs::path dump = file("valid.mtd", valid_dump());
    for (const char* command : {"leaks", "report", "histogram", "arenas"}) {
        const RunResult text = run({command, dump.string()});
        EXPECT_EQ(text.exit_code, 0) << text.describe();
        EXPECT_EQ(text.err, "") << text.describe();
        EXPECT_FALSE(text.out.empty());
        const RunResult json = run({command, "--json", dump.string()});
        ASSERT_EQ(json.exit_code, 0) << json.describe();
        EXPECT_EQ(json.err, "") << json.describe();
        const nlohmann::json doc = nlohmann::json::parse(json.out);
        EXPECT_EQ(doc.at("program"), "victim");
        EXPECT_EQ(doc.at("complete"), true);
    }
}

TEST_F(BadDumps, CutShortIsReadWithOneWarning) {
    const DumpBuilder dump = valid_dump();
    std::vector<uint8_t> bytes = dump.bytes();
    bytes.resize(dump.record_offset(1, 2) + 1); // inside the first free of the second chunk
    const fs::path path = file("cut.mtd", bytes);
    const RunResult result = run({"leaks", "--json", path.string()});
    ASSERT_EQ(result.exit_code, 0) << result.describe();
    const std::vector<std::string> lines = lines_of(result.err);
    ASSERT_EQ(lines.size(), 1u) << result.describe();
    EXPECT_EQ(lines[0].rfind("memtrace: warning: ", 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find("cut short"), std::string::npos) << lines[0];
    const nlohmann::json leaks = nlohmann::json::parse(result.out);
    EXPECT_EQ(leaks.at("complete"), false);
    EXPECT_EQ(leaks.at("total_bytes"), 64 + 128 + 256); // the frees were cut off
    EXPECT_EQ(leaks.at("total_blocks"), 3);

    const RunResult text = run({"leaks", path.string()});
    EXPECT_NE(text.out.find("did not end cleanly"), std::string::npos) << text.describe();
}

TEST_F(BadDumps, EmptyFile) {
    expect_refused(file("empty.mtd", std::vector<uint8_t>{}), {"empty"});
}

TEST_F(BadDumps, NotADump) {
    std::string text;
    for (int i = 0; i < 200; ++i)
        text += "this is a text file, not a dump\n";
    expect_refused(file("text.mtd", std::vector<uint8_t>(text.begin(), text.end())),
                   {"not a memtrace dump"});
}

TEST_F(BadDumps, DamagedMagic) {
    std::vector<uint8_t> bytes = valid_dump().bytes();
    bytes[2] = 'X';
    expect_refused(file("magic.mtd", bytes), {"not a memtrace dump"});
}

TEST_F(BadDumps, NewerFormatVersion) {
    DumpBuilder dump = valid_dump();
    dump.header.format_version = 7;
    expect_refused(file("newer.mtd", dump),
                   {"dump format version 7 is newer than this memtrace reads (" +
                    std::to_string(f::kFormatVersion) + ")"});
}

TEST_F(BadDumps, DamagedHeaderFields) {
    struct Case {
        const char* name;
        void (*damage)(f::FileHeader&);
        const char* expected;
    };
    const Case cases[] = {
        {"version0", [](f::FileHeader& h) { h.format_version = 0; }, "format version 0"},
        {"endian", [](f::FileHeader& h) { h.endian_tag = 0x11223344; }, "endian tag 0x11223344"},
        {"swapped", [](f::FileHeader& h) { h.endian_tag = 0x04030201; }, "other byte order"},
        {"pointer", [](f::FileHeader& h) { h.pointer_size = 3; }, "pointer size 3"},
        {"header_size", [](f::FileHeader& h) { h.header_size = 12; }, "header size 12"},
        {"huge_header", [](f::FileHeader& h) { h.header_size = 0xffffffff; },
         "header size 4294967295"},
        {"end_reason", [](f::FileHeader& h) { h.end_reason = 99; }, "unknown end reason 99"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        DumpBuilder dump = valid_dump();
        c.damage(dump.header);
        expect_refused(file(std::string(c.name) + ".mtd", dump), {c.expected});
    }
}

TEST_F(BadDumps, DataEndBeforeTheChunks) {
    DumpBuilder dump = valid_dump();
    dump.data_end = 100;
    expect_refused(file("data_end.mtd", dump), {"damaged header", "data_end 100"});
}

TEST_F(BadDumps, FileEndsInsideTheHeader) {
    std::vector<uint8_t> bytes = valid_dump().bytes();
    bytes.resize(60);
    expect_refused(file("short.mtd", bytes), {"damaged header", "ends at byte 60"});
}

TEST_F(BadDumps, UnknownRecordKind) {
    const DumpBuilder dump = dump_with_raw_record({0x0f, 0x00, 0x00});
    expect_refused(file("kind.mtd", dump),
                   {at_byte(dump.record_offset(0, 1)), "unknown record kind 0x0f"});
}

TEST_F(BadDumps, SubKindOnAKindWithoutOne) {
    const DumpBuilder dump = dump_with_raw_record({0x32, 0x00, 0x00});
    expect_refused(file("subkind.mtd", dump),
                   {at_byte(dump.record_offset(0, 1)), "unknown record kind 0x32"});
}

TEST_F(BadDumps, UnknownAllocationFunction) {
    const DumpBuilder dump = dump_with_raw_record({0x51, 0x00, 0x10, 0x10, 0x00});
    expect_refused(file("function.mtd", dump),
                   {at_byte(dump.record_offset(0, 1)), "unknown allocation function 5"});
}

TEST_F(BadDumps, UndefinedStackId) {
    DumpBuilder dump = valid_dump();
    dump.chunks[1].alloc(T0 + 20, 0x40000, 8, 42);
    expect_refused(file("undefined.mtd", dump),
                   {at_byte(dump.record_offset(1, 4)), "stack id 42", "never defines"});
}

TEST_F(BadDumps, DuplicateStackId) {
    DumpBuilder dump = valid_dump();
    dump.chunks[1].stack(T0 + 20, 1, {0x1});
    expect_refused(file("duplicate.mtd", dump),
                   {at_byte(dump.record_offset(1, 4)), "stack id 1 is defined twice"});
}

TEST_F(BadDumps, LengthPastTheCommittedBytes) {
    // ProcessInfo whose exe path claims 1000 bytes; the chunk commits 3 of them.
    const DumpBuilder dump = dump_with_raw_record({0x06, 0x00, 0xe8, 0x07, 'a', 'b', 'c'});
    expect_refused(file("length.mtd", dump),
                   {at_byte(dump.record_offset(0, 1)), "runs past its chunk's committed bytes"});
}

TEST_F(BadDumps, StackFramesPastTheCommittedBytes) {
    // Stack 2 of depth 10 with two frames present.
    const DumpBuilder dump = dump_with_raw_record({0x03, 0x00, 0x02, 0x14, 0x81, 0x01, 0x02});
    expect_refused(file("frames.mtd", dump),
                   {at_byte(dump.record_offset(0, 1)), "runs past its chunk's committed bytes"});
}

TEST_F(BadDumps, StringLongerThanTheLimit) {
    // exe path length 70000 (0xf0 0xa2 0x04).
    const DumpBuilder dump = dump_with_raw_record({0x06, 0x00, 0xf0, 0xa2, 0x04, 'a'});
    expect_refused(file("long.mtd", dump),
                   {at_byte(dump.record_offset(0, 1)), "exe path length 70000 is over the limit"});
}

TEST_F(BadDumps, BuildIdLongerThanTheLimit) {
    // ModuleLoad: id 1, bias 0, start 0, end 0, build-id length 65.
    std::vector<uint8_t> record = {0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 65};
    record.resize(record.size() + 65 + 1, 0);
    const DumpBuilder dump = dump_with_raw_record(record);
    expect_refused(file("build_id.mtd", dump),
                   {at_byte(dump.record_offset(0, 1)), "build-id length 65 is over the limit"});
}

TEST_F(BadDumps, StackDeeperThanTheLimit) {
    // Stack 2 claiming depth 300 (600 = 0xd8 0x04 with the flag bit clear).
    const DumpBuilder dump = dump_with_raw_record({0x03, 0x00, 0x02, 0xd8, 0x04, 0x01});
    expect_refused(file("deep.mtd", dump),
                   {at_byte(dump.record_offset(0, 1)), "stack depth 300 is over the limit"});
}

TEST_F(BadDumps, VarintLongerThanTenBytes) {
    std::vector<uint8_t> record = {0x01};
    record.insert(record.end(), 12, 0xff);
    record.push_back(0x00);
    const DumpBuilder dump = dump_with_raw_record(record);
    expect_refused(file("varint.mtd", dump),
                   {at_byte(dump.record_offset(0, 1)), "malformed varint"});
}

TEST_F(BadDumps, ChunkWithHugeCapacity) {
    DumpBuilder dump = valid_dump();
    dump.chunks[0].capacity = 0xfffffff0;
    expect_refused(file("capacity.mtd", dump),
                   {at_byte(f::kHeaderSize), "bad chunk header", "capacity 4294967280"});
}

TEST_F(BadDumps, ChunkSmallerThanItsHeader) {
    DumpBuilder dump = valid_dump();
    dump.chunks[1].capacity = 8;
    expect_refused(file("small.mtd", dump),
                   {at_byte(dump.chunk_offset(1)), "bad chunk header", "capacity 8"});
}

TEST_F(BadDumps, ChunkCommittingMoreThanItHolds) {
    DumpBuilder dump = valid_dump();
    dump.chunks[1].committed = 0xffffffff;
    expect_refused(file("committed.mtd", dump),
                   {at_byte(dump.chunk_offset(1)), "bad chunk header", "committed"});
}

TEST_F(BadDumps, ChunkWithBadMagic) {
    DumpBuilder dump = valid_dump();
    dump.chunks[1].magic = 0x12345678;
    expect_refused(file("chunk_magic.mtd", dump),
                   {at_byte(dump.chunk_offset(1)), "bad chunk header", "magic 0x12345678"});
}

TEST_F(BadDumps, ChunkRunningPastDataEnd) {
    DumpBuilder dump = valid_dump();
    dump.chunks[1].capacity = 1 << 20;
    expect_refused(file("past_end.mtd", dump),
                   {at_byte(dump.chunk_offset(1)), "bad chunk header", "data_end"});
}

TEST_F(BadDumps, NotAFile) {
    expect_refused(dir_.path(), {"is a directory"});
    expect_refused(dir_ / "absent.mtd", {"cannot open", "No such file"});
}

TEST_F(BadDumps, RandomGarbage) {
    std::mt19937_64 random(20240601);
    for (const size_t size : {1, 7, 8, 103, 104, 4095, 4096, 4097, 65536, 1 << 20}) {
        SCOPED_TRACE("size " + std::to_string(size));
        std::vector<uint8_t> bytes(size);
        for (uint8_t& byte : bytes)
            byte = static_cast<uint8_t>(random());
        if (bytes[0] == 'M') bytes[0] = 'm';
        expect_refused(file("garbage.mtd", bytes), {"not a memtrace dump"});
    }
}

TEST_F(BadDumps, RandomGarbageAfterAValidHeader) {
    std::mt19937_64 random(77);
    for (const size_t size : {1, 31, 32, 4096, 100000}) {
        SCOPED_TRACE("size " + std::to_string(size));
        std::vector<uint8_t> bytes = DumpBuilder().bytes();
        for (size_t i = 0; i < size; ++i)
            bytes.push_back(static_cast<uint8_t>(random()));
        f::FileHeader header;
        std::memcpy(&header, bytes.data(), sizeof(header));
        header.data_end = bytes.size();
        std::memcpy(bytes.data(), &header, sizeof(header));
        expect_refused(file("garbage.mtd", bytes), {at_byte(f::kHeaderSize), "bad chunk header"});
    }
}

// Random records inside valid chunk headers: whatever the bytes say, the analyzer either
// reads them or refuses them with one error line naming a byte offset.
TEST_F(BadDumps, RandomRecordsInValidChunks) {
    std::mt19937_64 random(4711);
    for (int round = 0; round < 12; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        DumpBuilder dump;
        for (int chunk = 0; chunk < 3; ++chunk) {
            std::vector<uint8_t> noise(1 + random() % 3000);
            for (uint8_t& byte : noise)
                byte = static_cast<uint8_t>(random());
            // Mostly valid kind bytes, so decoding gets past the first record now and then.
            for (size_t i = 0; i < noise.size(); i += 1 + random() % 8) {
                noise[i] = static_cast<uint8_t>(1 + random() % 6);
            }
            dump.add_chunk(static_cast<uint32_t>(chunk + 1), T0).raw(noise);
        }
        const fs::path path = file("noise.mtd", dump);
        const RunResult result = run({"report", "--json", path.string()});
        ASSERT_FALSE(result.timed_out) << result.describe();
        ASSERT_FALSE(result.signaled) << result.describe();
        ASSERT_TRUE(result.exit_code == 0 || result.exit_code == 1) << result.describe();
        const std::vector<std::string> lines = lines_of(result.err);
        if (result.exit_code == 1) {
            ASSERT_EQ(lines.size(), 1u) << result.describe();
            EXPECT_EQ(lines[0].rfind("memtrace: error: ", 0), 0u) << lines[0];
            EXPECT_NE(lines[0].find("at byte "), std::string::npos) << lines[0];
        } else {
            EXPECT_TRUE(lines.empty()) << result.describe();
            EXPECT_TRUE(nlohmann::json::accept(result.out)) << result.describe();
        }
    }
}

TEST_F(BadDumps, CommandLineMistakesExitWithTwo) {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{},
                                               {"leaks"},
                                               {"frobnicate"},
                                               {"leaks", "--top", "0", "x"},
                                               {"report", "--bogus", "x"}}) {
        const RunResult result = run(args);
        EXPECT_FALSE(result.signaled) << result.describe();
        EXPECT_EQ(result.exit_code, 2) << result.describe();
        EXPECT_NE(result.err.find("memtrace: error: "), std::string::npos) << result.describe();
    }
    const RunResult help = run({"--help"});
    EXPECT_EQ(help.exit_code, 0) << help.describe();
    const RunResult version = run({"--version"});
    EXPECT_EQ(version.exit_code, 0) << version.describe();
    EXPECT_EQ(version.out.rfind("memtrace ", 0), 0u) << version.describe();
}

// ---- Compacted dumps (compact_format.h): damage must be refused just as clearly.

// The compacted form of `dump`, with exact event times. Version 2 by default: the crafted event
// frames below are of its encoding (compact_events.h).
std::vector<uint8_t> compacted_bytes(const DumpBuilder& dump, uint32_t version = 2) {
    TempDir dir;
    dump.write(dir / "raw.mtd");
    CompactOptions options;
    options.time_quantum_ns = 1;
    options.progress = false;
    options.version = version;
    write_compacted_dump((dir / "raw.mtd").string(), (dir / "c.mtd").string(), options);
    const std::string text = read_all(dir / "c.mtd");
    return {text.begin(), text.end()};
}

compact::Header header_of(const std::vector<uint8_t>& bytes) {
    compact::Header header{};
    std::memcpy(&header, bytes.data(), sizeof(header));
    return header;
}

// `compacted` with its events section replaced by one frame holding `content`.
std::vector<uint8_t> with_event_content(const std::vector<uint8_t>& compacted,
                                        const std::vector<uint8_t>& content) {
    compact::Header header = header_of(compacted);
    std::vector<uint8_t> frame;
    ZstdCompressor(3).compress(content, frame);
    const compact::FrameHeader frame_header{static_cast<uint32_t>(frame.size()),
                                            static_cast<uint32_t>(content.size())};
    std::vector<uint8_t> events(sizeof(frame_header));
    std::memcpy(events.data(), &frame_header, sizeof(frame_header));
    events.insert(events.end(), frame.begin(), frame.end());
    const auto metadata_begin = compacted.begin() + static_cast<long>(header.metadata.offset);
    const std::vector<uint8_t> metadata(metadata_begin,
                                        metadata_begin + static_cast<long>(header.metadata.bytes));
    header.events = {header.events.offset, events.size(), content.size(), 1};
    header.metadata.offset = header.events.offset + events.size();
    std::vector<uint8_t> bytes(compacted.begin(),
                               compacted.begin() + static_cast<long>(header.events.offset));
    std::memcpy(bytes.data(), &header, sizeof(header));
    bytes.insert(bytes.end(), events.begin(), events.end());
    bytes.insert(bytes.end(), metadata.begin(), metadata.end());
    return bytes;
}

// `compacted` (version 3) with its events section replaced by one frame holding `content`; the
// addressed section (compact_sites.h) is kept.
std::vector<uint8_t> with_site_event_content(const std::vector<uint8_t>& compacted,
                                             const std::vector<uint8_t>& content) {
    const compact::Header original = header_of(compacted);
    std::vector<uint8_t> bytes = with_event_content(compacted, content);
    compact::Header header = header_of(bytes);
    const auto addressed_begin = compacted.begin() + static_cast<long>(original.addressed_offset);
    const std::vector<uint8_t> addressed(
        addressed_begin, compacted.begin() + static_cast<long>(original.metadata.offset));
    header.addressed_offset = header.metadata.offset;
    header.metadata.offset += addressed.size();
    bytes.insert(bytes.begin() + static_cast<long>(header.addressed_offset), addressed.begin(),
                 addressed.end());
    std::memcpy(bytes.data(), &header, sizeof(header));
    return bytes;
}

// Frame content of one event (compact_events.h): tag, then the columns in compact::Column
// order (all of them, empty ones too); the low-byte columns hold bytes, the others varints.
// Frame content of one event: the event count (1), the column lengths, the tag, the columns.
std::vector<uint8_t> event_frame(uint8_t tag, const std::vector<std::vector<uint8_t>>& encoded) {
    std::vector<uint8_t> content{1}; // one event
    for (const auto& column : encoded)
        content.push_back(static_cast<uint8_t>(column.size()));
    content.push_back(tag);
    for (const auto& column : encoded)
        content.insert(content.end(), column.begin(), column.end());
    return content;
}

std::vector<uint8_t> one_event(uint8_t tag, const std::vector<std::vector<uint64_t>>& columns) {
    EXPECT_EQ(columns.size(), compact::kColumnCount);
    std::vector<std::vector<uint8_t>> encoded(columns.size());
    for (size_t i = 0; i < columns.size(); ++i) {
        for (const uint64_t value : columns[i]) {
            if (i == compact::kAddressLow || i == compact::kAgeLow) {
                encoded[i].push_back(static_cast<uint8_t>(value));
                continue;
            }
            uint8_t buffer[f::kMaxVarintBytes];
            encoded[i].insert(encoded[i].end(), buffer, f::write_varint(buffer, value));
        }
    }
    return event_frame(tag, encoded);
}

// The same for the site-mode codec (compact_sites.h): every column holds varints.
std::vector<uint8_t> one_site_event(uint8_t tag,
                                    const std::vector<std::vector<uint64_t>>& columns) {
    EXPECT_EQ(columns.size(), compact::kSiteColumnCount);
    std::vector<std::vector<uint8_t>> encoded(columns.size());
    for (size_t i = 0; i < columns.size(); ++i) {
        for (const uint64_t value : columns[i]) {
            uint8_t buffer[f::kMaxVarintBytes];
            encoded[i].insert(encoded[i].end(), buffer, f::write_varint(buffer, value));
        }
    }
    return event_frame(tag, encoded);
}

TEST_F(BadDumps, CompactedDumpReadsLikeTheRawOne) {
    const fs::path raw = file("raw.mtd", valid_dump());
    for (const uint32_t version : {2u, 3u})
        for (const char* command : {"leaks", "report"}) {
            SCOPED_TRACE(version);
            const fs::path compacted =
                file("compacted.mtd", compacted_bytes(valid_dump(), version));
            const RunResult a = run({command, "--json", raw.string()});
            const RunResult b = run({command, "--json", compacted.string()});
            ASSERT_EQ(b.exit_code, 0) << b.describe();
            EXPECT_EQ(b.err, "") << b.describe();
            nlohmann::json from_raw = nlohmann::json::parse(a.out);
            nlohmann::json from_compacted = nlohmann::json::parse(b.out);
            from_raw.erase("dump");
            from_compacted.erase("dump");
            EXPECT_EQ(from_compacted, from_raw);
        }
}

TEST_F(BadDumps, CompactedCutShort) {
    const std::vector<uint8_t> bytes = compacted_bytes(valid_dump());
    const compact::Header header = header_of(bytes);
    expect_refused(file("c1.mtd", std::vector<uint8_t>(bytes.begin(), bytes.begin() + 100)),
                   {"inside its 256-byte header"});
    for (const uint64_t length :
         {header.events.offset + 3, header.metadata.offset + 20, uint64_t{bytes.size() - 1}}) {
        SCOPED_TRACE("cut at " + std::to_string(length));
        expect_refused(
            file("c2.mtd",
                 std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(length))),
            {"cut short"});
    }
}

TEST_F(BadDumps, CompactedNewerVersion) {
    std::vector<uint8_t> bytes = compacted_bytes(valid_dump());
    compact::Header header = header_of(bytes);
    header.version = 9;
    std::memcpy(bytes.data(), &header, sizeof(header));
    expect_refused(file("c.mtd", bytes), {"compacted dump version 9"});
}

TEST_F(BadDumps, CompactedChecksumMismatch) {
    std::vector<uint8_t> bytes = compacted_bytes(valid_dump());
    const compact::Header header = header_of(bytes);
    // The last byte of the events frame's data, just before its checksum.
    bytes[header.events.offset + header.events.bytes - 5] ^= 0x40;
    expect_refused(file("c.mtd", bytes), {at_byte(header.events.offset), "damaged compacted dump"});
}

TEST_F(BadDumps, CompactedFrameTooLarge) {
    std::vector<uint8_t> bytes = compacted_bytes(valid_dump());
    const compact::Header header = header_of(bytes);
    compact::FrameHeader frame{};
    std::memcpy(&frame, bytes.data() + header.metadata.offset, sizeof(frame));
    frame.content_size = 0xffffffffu;
    std::memcpy(bytes.data() + header.metadata.offset, &frame, sizeof(frame));
    expect_refused(file("c.mtd", bytes), {at_byte(header.metadata.offset), "frame content size"});
}

// An allocation of 64 bytes with stack `stack` at 0x20000 by thread 1 at T0 + 4, its address
// in the address columns (zigzag 0x40000: low byte 0, high part 0x400).
std::vector<uint8_t> one_allocation(uint32_t stack) {
    return one_event(0x88, {{1}, {T0 + 3}, {64}, {stack}, {0}, {0x400}, {}, {}, {}, {}, {}});
}

TEST_F(BadDumps, CompactedUnknownEventTag) {
    // A Free with code 4, which no Free has.
    const std::vector<uint8_t> bytes =
        with_event_content(compacted_bytes(valid_dump()),
                           one_event(0xc9, {{1}, {T0 + 3}, {}, {}, {}, {}, {}, {}, {}, {}, {}}));
    expect_refused(file("c.mtd", bytes), {"unknown event tag 0xc9 of event 0"});
}

TEST_F(BadDumps, CompactedFreeOfABlockOfAThreadThatNeverAllocated) {
    // A free of the newest block of thread 7 (code 3: another thread's block), which has none.
    const std::vector<uint8_t> bytes = with_event_content(
        compacted_bytes(valid_dump()),
        one_event(0xb9, {{1, 7}, {T0 + 3}, {}, {}, {}, {}, {1}, {0}, {}, {}, {}}));
    expect_refused(file("c.mtd", bytes), {"a free of a block that is not live of event 0"});
}

TEST_F(BadDumps, CompactedFreeOfABlockNeverAllocated) {
    // A free naming the block allocated 5 allocations ago, before any allocation.
    const std::vector<uint8_t> bytes =
        with_event_content(compacted_bytes(valid_dump()),
                           one_event(0x89, {{1}, {T0 + 3}, {}, {}, {}, {}, {5}, {0}, {}, {}, {}}));
    expect_refused(file("c.mtd", bytes), {"bad block age of event 0"});
}

TEST_F(BadDumps, CompactedReusedAddressNeverFreed) {
    // An allocation at the 3rd newest address freed by its thread, before any free.
    const std::vector<uint8_t> bytes =
        with_event_content(compacted_bytes(valid_dump()),
                           one_event(0xb8, {{1}, {T0 + 3}, {64}, {1}, {}, {}, {}, {}, {}, {}, {}}));
    expect_refused(file("c.mtd", bytes), {"a reused address the decoder does not have of event 0"});
}

TEST_F(BadDumps, CompactedUndefinedStackId) {
    const std::vector<uint8_t> bytes =
        with_event_content(compacted_bytes(valid_dump()), one_allocation(9));
    expect_refused(file("c.mtd", bytes), {"event 0 uses stack id 9"});
}

TEST_F(BadDumps, CompactedSiteModeEvents) {
    const std::vector<uint8_t> v3 = compacted_bytes(valid_dump(), 3);
    ASSERT_EQ(header_of(v3).version, 3u);
    // Tag bit 6 is unused.
    expect_refused(file("c1.mtd", with_site_event_content(
                                      v3, one_site_event(0x48, {{1}, {}, {}, {64}, {1}, {}}))),
                   {"unknown event tag 0x48 of event 0"});
    // A free of site 0 before any site was defined.
    expect_refused(file("c2.mtd", with_site_event_content(
                                      v3, one_site_event(0x09, {{1}, {}, {0}, {}, {}, {}}))),
                   {"bad site number of event 0"});
    // A new site with no stack id left in its column.
    expect_refused(file("c3.mtd", with_site_event_content(
                                      v3, one_site_event(0x18, {{1}, {}, {}, {}, {64}, {}}))),
                   {"bad site of event 0"});
    // A valid event (one Alloc of stack 1, as crafting goes right), but the dump's survivor is
    // the second allocation, which never comes.
    expect_refused(file("c4.mtd", with_site_event_content(
                                      v3, one_site_event(0x18, {{1}, {}, {}, {1}, {64}, {}}))),
                   {"1 addressed blocks were never allocated"});
}

TEST_F(BadDumps, CompactedEventCountDiffers) {
    // A valid event, but the header says the dump has 5.
    const std::vector<uint8_t> bytes =
        with_event_content(compacted_bytes(valid_dump()), one_allocation(1));
    expect_refused(file("c.mtd", bytes), {"1 events, its header says 5"});
}

// In-process: reads the dump with both passes and renders both reports. Returns true when it
// was read, false when refused with DumpError; anything else escapes and fails the test.
bool analyze(const fs::path& path) {
    try {
        std::ostringstream sink;
        reports::write_leak_report(path.string(), {.json = true, .top = 0}, sink);
        reports::write_summary_report(path.string(), {.json = false}, sink);
        return true;
    } catch (const DumpError&) {
        return false;
    }
}

TEST(DamagedDumps, EveryPrefixOfAValidDump) {
    TempDir dir;
    LogCapture quiet;
    const DumpBuilder dump = valid_dump();
    const std::vector<uint8_t> bytes = dump.bytes();
    uint64_t previous_events = 0;
    for (size_t length = 0; length <= bytes.size(); ++length) {
        // Prefixes that end between the header fields and the first chunk all read alike.
        if (length > sizeof(f::FileHeader) && length < f::kHeaderSize - 1 && length % 61 != 0) {
            continue;
        }
        SCOPED_TRACE("prefix of " + std::to_string(length) + " bytes");
        const fs::path path = dir / "prefix.mtd";
        write_file(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + length));
        if (length < sizeof(f::FileHeader)) {
            EXPECT_FALSE(analyze(path));
            continue;
        }
        ASSERT_TRUE(analyze(path));
        const DumpReader reader(path.string());
        EXPECT_EQ(reader.cut_short(), length < bytes.size());
        EXPECT_EQ(reader.complete(), length == bytes.size());
        uint64_t events = 0;
        reader.for_each_event([&](const HeapEvent&) { ++events; });
        EXPECT_GE(events, previous_events); // more bytes never lose a whole record
        previous_events = events;
    }
    EXPECT_EQ(previous_events, 5u);
}

TEST(DamagedDumps, RandomByteDamage) {
    TempDir dir;
    LogCapture quiet;
    const DumpBuilder dump = valid_dump();
    const std::vector<uint8_t> original = dump.bytes();
    const size_t data_begin = f::kHeaderSize;
    std::mt19937_64 random(99);
    int read = 0;
    int refused = 0;
    for (int round = 0; round < 1500; ++round) {
        std::vector<uint8_t> bytes = original;
        const int damages = 1 + static_cast<int>(random() % 4);
        for (int d = 0; d < damages; ++d) {
            // Mostly the records, sometimes the header fields.
            const bool in_header = random() % 8 == 0;
            const size_t at = in_header ? random() % sizeof(f::FileHeader)
                                        : data_begin + random() % (bytes.size() - data_begin);
            bytes[at] = random() % 2 == 0
                            ? static_cast<uint8_t>(random())
                            : static_cast<uint8_t>(bytes[at] ^ (1u << (random() % 8)));
        }
        if (random() % 4 == 0) bytes.resize(random() % bytes.size());
        const fs::path path = dir / "damaged.mtd";
        write_file(path, bytes);
        (analyze(path) ? read : refused) += 1;
    }
    // Both outcomes occur; neither crashed nor threw anything but DumpError.
    EXPECT_GT(read, 0);
    EXPECT_GT(refused, 0);
}

TEST(DamagedDumps, EveryPrefixOfACompactedDump) {
    TempDir dir;
    LogCapture quiet;
    for (const uint32_t version : {2u, 3u}) {
        SCOPED_TRACE(version);
        const std::vector<uint8_t> bytes = compacted_bytes(valid_dump(), version);
        for (size_t length = 0; length < bytes.size(); ++length) {
            SCOPED_TRACE("prefix of " + std::to_string(length) + " bytes");
            write_file(dir / "prefix.mtd",
                       std::vector<uint8_t>(bytes.begin(), bytes.begin() + length));
            EXPECT_FALSE(analyze(dir / "prefix.mtd"));
        }
        write_file(dir / "whole.mtd", bytes);
        EXPECT_TRUE(analyze(dir / "whole.mtd"));
    }
}

TEST(DamagedDumps, RandomByteDamageOfACompactedDump) {
    TempDir dir;
    LogCapture quiet;
    for (const uint32_t version : {2u, 3u}) {
        SCOPED_TRACE(version);
        const std::vector<uint8_t> original = compacted_bytes(valid_dump(), version);
        std::mt19937_64 random(17);
        int refused = 0;
        for (int round = 0; round < 1500; ++round) {
            std::vector<uint8_t> bytes = original;
            const int damages = 1 + static_cast<int>(random() % 4);
            for (int d = 0; d < damages; ++d) {
                const size_t at = random() % bytes.size();
                bytes[at] = random() % 2 == 0
                                ? static_cast<uint8_t>(random())
                                : static_cast<uint8_t>(bytes[at] ^ (1u << (random() % 8)));
            }
            const fs::path path = dir / "damaged.mtd";
            write_file(path, bytes);
            refused += analyze(path) ? 0 : 1;
        }
        // Checksums catch damage to the frames; only unused header bytes can change unnoticed.
        EXPECT_GT(refused, 1000);
    }
}

} // namespace
} // namespace memtrace::test
