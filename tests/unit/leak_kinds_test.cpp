// Leak kinds from a crafted LeakScan (definite, indirect, reachable, live) and what the CI gate
// counts of them.
#include "dump_builder.h"
#include "dump_reader.h"
#include "gate/gate.h"
#include "heap_model.h"
#include "leak_kinds.h"

#include <gtest/gtest.h>

namespace memtrace::test {
namespace {

namespace f = memtrace::format;
constexpr uint64_t T0 = DumpBuilder::kStartNs;

// Stack 1: a definite block (0x1000) and a reachable one (0x3000); stack 2: an indirect block
// (0x2000); stack 3: a block allocated after the scan (0x4000) and one at the address of a
// definite block freed after the scan (0x5000).
DumpBuilder scanned_dump(bool with_scan) {
    DumpBuilder dump;
    ChunkBuilder& chunk = dump.add_chunk(1, T0);
    chunk.stack(T0, 1, {0x401000})
        .stack(T0, 2, {0x402000})
        .stack(T0, 3, {0x403000})
        .alloc(T0 + 10, 0x1000, 100, 1)
        .alloc(T0 + 20, 0x2000, 40, 2)
        .alloc(T0 + 30, 0x3000, 7, 1)
        .alloc(T0 + 40, 0x5000, 1000, 1);
    if (with_scan) {
        chunk.leak_scan(T0 + 500, {f::LeakScanStatus::Complete, 4, 2, 1, 1, 999})
            .leak_scan_blocks(
                T0 + 500, {0x1000, 0x2000, 0x5000},
                {f::BlockKind::Definite, f::BlockKind::Indirect, f::BlockKind::Definite});
    }
    chunk.free(T0 + 550, 0x5000).alloc(T0 + 600, 0x4000, 5, 3).alloc(T0 + 700, 0x5000, 3, 3);
    return dump;
}

const KindedSite* find(const LeakClassification& leaks, uint32_t stack, LeakKind kind) {
    for (const KindedSite& site : leaks.sites)
        if (site.stack_id == stack && site.kind == kind) return &site;
    return nullptr;
}

TEST(LeakKinds, ClassifiesFromTheScan) {
    TempDir dir;
    scanned_dump(true).write(dir / "scanned.mtd");
    const DumpReader reader((dir / "scanned.mtd").string());
    const LeakClassification leaks = classify_leaks(replay(reader), reader.leak_scan());
    EXPECT_TRUE(leaks.scanned);
    ASSERT_EQ(leaks.sites.size(), 4u);
    // One site per (stack, kind): stack 1 splits into definite and reachable.
    ASSERT_NE(find(leaks, 1, LeakKind::Definite), nullptr);
    EXPECT_EQ(find(leaks, 1, LeakKind::Definite)->bytes, 100u);
    ASSERT_NE(find(leaks, 1, LeakKind::Reachable), nullptr);
    EXPECT_EQ(find(leaks, 1, LeakKind::Reachable)->bytes, 7u);
    ASSERT_NE(find(leaks, 2, LeakKind::Indirect), nullptr);
    EXPECT_EQ(find(leaks, 2, LeakKind::Indirect)->blocks, 1u);
    // After the scan: both blocks of stack 3 are live, including the one reusing 0x5000.
    ASSERT_NE(find(leaks, 3, LeakKind::Live), nullptr);
    EXPECT_EQ(find(leaks, 3, LeakKind::Live)->bytes, 8u);
    EXPECT_EQ(find(leaks, 3, LeakKind::Live)->blocks, 2u);
    // Largest first.
    EXPECT_EQ(leaks.sites.front().bytes, 100u);
    EXPECT_EQ(leaks.total(LeakKind::Definite).bytes, 100u);
    EXPECT_EQ(leaks.total(LeakKind::Indirect).bytes, 40u);
    EXPECT_EQ(leaks.total(LeakKind::Reachable).bytes, 7u);
    EXPECT_EQ(leaks.total(LeakKind::Live).bytes, 8u);
}

TEST(LeakKinds, EverythingIsLiveWithoutACompletedScan) {
    TempDir dir;
    scanned_dump(false).write(dir / "plain.mtd");
    const DumpReader plain((dir / "plain.mtd").string());
    const LeakClassification leaks = classify_leaks(replay(plain), plain.leak_scan());
    EXPECT_FALSE(leaks.scanned);
    EXPECT_EQ(leaks.total(LeakKind::Live).bytes, 100u + 40u + 7u + 8u);
    EXPECT_EQ(leaks.total(LeakKind::Definite).blocks, 0u);

    DumpBuilder failed = scanned_dump(false);
    failed.chunks[0].leak_scan(T0 + 800, {f::LeakScanStatus::Failed, 0, 0, 0, 0, 0});
    failed.write(dir / "failed.mtd");
    const DumpReader reader((dir / "failed.mtd").string());
    EXPECT_FALSE(classify_leaks(replay(reader), reader.leak_scan()).scanned);
}

TEST(LeakKinds, NamesRoundTrip) {
    for (size_t i = 0; i < kLeakKindCount; ++i) {
        const auto kind = static_cast<LeakKind>(i);
        EXPECT_EQ(leak_kind_from_name(leak_kind_name(kind)), kind);
    }
    EXPECT_FALSE(leak_kind_from_name("lost").has_value());
}

TEST(Gate, CountsLostAndLiveButNotReachableUnlessAsked) {
    TempDir dir;
    scanned_dump(true).write(dir / "scanned.mtd");
    gate::GateRules rules;
    rules.default_suppressions = false;
    const gate::GateVerdict verdict = gate::evaluate((dir / "scanned.mtd").string(), rules);
    EXPECT_TRUE(verdict.scanned);
    EXPECT_EQ(verdict.counted.bytes, 100u + 40u + 8u);
    EXPECT_EQ(verdict.counted.blocks, 4u);
    EXPECT_EQ(verdict.reachable.bytes, 7u);
    EXPECT_EQ(verdict.suppressed.blocks, 0u);
    ASSERT_EQ(verdict.rules.size(), 1u);
    EXPECT_EQ(verdict.rules[0].id, "leaked-blocks");
    EXPECT_FALSE(verdict.passed());
    EXPECT_EQ(verdict.peak_bytes, 100u + 40u + 7u + 1000u);

    rules.include_reachable = true;
    rules.max_leaked_bytes = 155;
    const gate::GateVerdict all = gate::evaluate((dir / "scanned.mtd").string(), rules);
    EXPECT_EQ(all.counted.bytes, 155u);
    EXPECT_EQ(all.reachable.bytes, 0u);
    ASSERT_EQ(all.rules.size(), 1u);
    EXPECT_EQ(all.rules[0].id, "leaked-bytes");
    EXPECT_TRUE(all.passed());
}

} // namespace
} // namespace memtrace::test
