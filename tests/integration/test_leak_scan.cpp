// The reachability scan the preload runs at exit, checked block by block: each program prints
// the addresses of its blocks ("<label> 0x<address>"), and the dump's LeakScan records, read
// with the real DumpReader, must classify exactly those blocks. The same programs give the same
// classification under valgrind's memcheck (docs/design.md, "Leak scan").
#include "dump_reader.h"
#include "integration_test.h"

#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace memtrace::integration {
namespace {

namespace f = format;
using Kinds = std::unordered_map<uint64_t, f::BlockKind>;

// "label 0x1234" lines of the program's stdout.
std::map<std::string, uint64_t> printed_addresses(const std::string& out) {
    std::map<std::string, uint64_t> addresses;
    std::istringstream lines(out);
    std::string label, hex;
    while (lines >> label >> hex)
        addresses[label] = std::stoull(hex, nullptr, 16);
    return addresses;
}

class LeakScan : public IntegrationTest {
protected:
    // Traces program under `memtrace run` (with extra environment) and reads its dump.
    const DumpReader& run(const std::string& name,
                          const std::map<std::string, std::string>& env = {}) {
        ProcessSpec spec =
            memtrace_run_spec(dir(), {"-o", dump_of(name).string()}, {program(name).string()});
        for (const auto& [key, value] : env)
            spec.env_overrides[key] = value;
        result_ = run_process(spec);
        addresses_ = printed_addresses(result_.out);
        reader_.emplace(dump_of(name).string());
        return *reader_;
    }
    uint64_t address(const std::string& label) const {
        const auto it = addresses_.find(label);
        if (it == addresses_.end()) ADD_FAILURE() << "the program did not print " << label;
        return it == addresses_.end() ? 0 : it->second;
    }
    // The scan ran to completion over `live` blocks and found exactly `unreachable`.
    void expect_scan(const Kinds& unreachable, uint64_t definite, uint64_t indirect) {
        ASSERT_TRUE(result_.exited() && result_.exit_code() == 0) << result_.describe();
        const LeakScanResult& scan = reader_->leak_scan();
        ASSERT_TRUE(scan.present);
        EXPECT_EQ(scan.status, f::LeakScanStatus::Complete);
        EXPECT_EQ(scan.unreachable, unreachable);
        EXPECT_EQ(scan.definite_blocks, definite);
        EXPECT_EQ(scan.indirect_blocks, indirect);
        EXPECT_EQ(scan.live_blocks,
                  scan.definite_blocks + scan.indirect_blocks + scan.reachable_blocks);
        EXPECT_GT(scan.scan_ns, 0u);
        EXPECT_TRUE(reader_->notes().empty());
    }

    ProcessResult result_;
    std::map<std::string, uint64_t> addresses_;
    std::optional<DumpReader> reader_;
};

TEST_F(LeakScan, LeakedStructMakesItsBuffersIndirect) {
    run("leakscan_struct");
    expect_scan({{address("struct"), f::BlockKind::Definite},
                 {address("first"), f::BlockKind::Indirect},
                 {address("second"), f::BlockKind::Indirect}},
                1, 2);
    EXPECT_EQ(reader_->leak_scan().live_blocks, 3u);
}

TEST_F(LeakScan, GlobalPointerKeepsItsBlockReachable) {
    run("leakscan_global");
    expect_scan({{address("lost"), f::BlockKind::Definite}}, 1, 0);
    EXPECT_NE(address("kept"), 0u);
    EXPECT_EQ(reader_->leak_scan().live_blocks, 2u);
    EXPECT_EQ(reader_->leak_scan().reachable_blocks, 1u);
}

TEST_F(LeakScan, PointerOnAnotherThreadsStackKeepsItsBlockReachable) {
    run("leakscan_thread_stack");
    // "held" is live and not listed: reachable through the blocked thread's stack.
    expect_scan({{address("lost"), f::BlockKind::Definite}}, 1, 0);
    EXPECT_NE(address("held"), 0u);
    EXPECT_EQ(reader_->leak_scan().unreachable.count(address("held")), 0u);
}

TEST_F(LeakScan, PlainLeakIsDefiniteAndCycleHasOneDefiniteBlock) {
    run("leakscan_plain");
    expect_scan({{address("plain"), f::BlockKind::Definite},
                 {address("ring_a"), f::BlockKind::Definite},
                 {address("ring_b"), f::BlockKind::Indirect}},
                2, 1);
    EXPECT_LT(address("ring_a"), address("ring_b"));
    EXPECT_EQ(reader_->leak_scan().live_blocks, 3u); // "freed" is not live
}

TEST_F(LeakScan, BlocksThroughReallocKeepTheirPlaceInTheMap) {
    run("leakscan_realloc");
    ASSERT_TRUE(result_.exited() && result_.exit_code() == 0) << result_.describe();
    expect_scan({{address("grown"), f::BlockKind::Definite},
                 {address("failed"), f::BlockKind::Definite},
                 {address("shrunk"), f::BlockKind::Definite}},
                3, 0);
    EXPECT_EQ(reader_->leak_scan().live_blocks, 5u); // and "kept", "inner" reachable
}

TEST_F(LeakScan, CrashLeavesNoScan) {
    const DumpReader& reader = run("segv");
    EXPECT_TRUE(result_.signaled()) << result_.describe();
    EXPECT_FALSE(reader.leak_scan().present);
}

TEST_F(LeakScan, TurnedOffBySettingIsSkippedWithANote) {
    const DumpReader& reader = run("leakscan_plain", {{"MEMTRACE_LEAK_SCAN", "0"}});
    const LeakScanResult& scan = reader.leak_scan();
    ASSERT_TRUE(scan.present);
    EXPECT_EQ(scan.status, f::LeakScanStatus::Skipped);
    EXPECT_TRUE(scan.unreachable.empty());
    ASSERT_EQ(reader.notes().size(), 1u);
    EXPECT_EQ(reader.notes()[0].code, f::NoteCode::LeakScanSkipped);
    EXPECT_EQ(reader.notes()[0].text, "turned off by MEMTRACE_LEAK_SCAN=0");
}

} // namespace
} // namespace memtrace::integration

namespace memtrace::integration {
namespace {

TEST_F(LeakScan, ThreadsStillAllocatingDoNotStopTheScan) {
    // Their blocks come and go during the scan, so only main's block is checked exactly.
    run("leakscan_busy_threads");
    ASSERT_TRUE(result_.exited() && result_.exit_code() == 0) << result_.describe();
    const LeakScanResult& scan = reader_->leak_scan();
    ASSERT_TRUE(scan.present);
    EXPECT_EQ(scan.status, f::LeakScanStatus::Complete);
    const auto lost = scan.unreachable.find(address("lost"));
    ASSERT_NE(lost, scan.unreachable.end());
    EXPECT_EQ(lost->second, f::BlockKind::Definite);
}

} // namespace
} // namespace memtrace::integration

namespace memtrace::integration {
namespace {

TEST_F(LeakScan, BlocksFreedOnAnotherThreadAndAddressesReusedAreClassifiedExactly) {
    run("leakscan_long_run");
    expect_scan({{address("early"), f::BlockKind::Definite},
                 {address("struct"), f::BlockKind::Definite},
                 {address("late"), f::BlockKind::Definite},
                 {address("first"), f::BlockKind::Indirect},
                 {address("second"), f::BlockKind::Indirect}},
                3, 2);
    EXPECT_FALSE(reader_->leak_scan().unreachable.contains(address("kept")));
}

TEST_F(LeakScan, SampledDumpIsSkippedWithANote) {
    const DumpReader& reader = run("leakscan_plain", {{"MEMTRACE_SAMPLE_BYTES", "4096"}});
    ASSERT_TRUE(reader.sampled());
    const LeakScanResult& scan = reader.leak_scan();
    ASSERT_TRUE(scan.present);
    EXPECT_EQ(scan.status, f::LeakScanStatus::Skipped);
    bool noted = false;
    for (const DumpNote& note : reader.notes())
        noted |= note.code == f::NoteCode::LeakScanSkipped &&
                 note.text == "the dump is sampled (MEMTRACE_SAMPLE_BYTES): the live blocks are "
                              "not all known";
    EXPECT_TRUE(noted);
}

} // namespace
} // namespace memtrace::integration
