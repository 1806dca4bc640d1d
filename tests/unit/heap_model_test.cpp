// HeapModel replaying crafted dumps: live blocks, totals, peak, per-stack statistics.
#include "dump_builder.h"
#include "heap_model.h"
#include "leak_kinds.h"

#include <gtest/gtest.h>

namespace memtrace::test {
namespace {

namespace f = memtrace::format;
constexpr uint64_t T0 = DumpBuilder::kStartNs;

HeapModel replay_dump(const DumpBuilder& dump, const TempDir& dir) {
    dump.write(dir / "dump.mtd");
    return replay(DumpReader((dir / "dump.mtd").string()));
}

TEST(HeapModel, ReallocMovesTheBlock) {
    TempDir dir;
    DumpBuilder dump;
    // realloc(p, 200) that moved, then realloc in place to 300, then realloc(q, 0).
    dump.add_chunk(1, T0)
        .stack(T0, 1, {0x401000})
        .stack(T0, 2, {0x402000})
        .alloc(T0 + 10, 0xa000, 100, 1)
        .free(T0 + 20, 0xa000)
        .alloc(T0 + 21, 0xb000, 200, 2, f::AllocFunction::Realloc)
        .free(T0 + 30, 0xb000)
        .alloc(T0 + 31, 0xb000, 300, 2, f::AllocFunction::Realloc)
        .alloc(T0 + 40, 0xc000, 5, 1)
        .free(T0 + 50, 0xc000);
    const HeapModel model = replay_dump(dump, dir);

    EXPECT_EQ(model.totals().allocations, 4u);
    EXPECT_EQ(model.totals().frees, 3u);
    EXPECT_EQ(model.totals().bytes_allocated, 100u + 200u + 300u + 5u);
    EXPECT_EQ(model.totals().unknown_frees, 0u);
    EXPECT_EQ(model.totals().replaced_blocks, 0u);
    ASSERT_EQ(model.live_blocks().size(), 1u);
    const LiveBlock& block = model.live_blocks().at(0xb000);
    EXPECT_EQ(block.size, 300u);
    EXPECT_EQ(block.stack_id, 2u);
    EXPECT_EQ(block.time_ns, T0 + 31);
    EXPECT_EQ(model.live_bytes(), 300u);
    EXPECT_EQ(model.peak_bytes(), 305u);
    EXPECT_EQ(model.peak_time_ns(), T0 + 40);

    const StackStats& first = model.stack_stats().at(1);
    EXPECT_EQ(first.allocations, 2u);
    EXPECT_EQ(first.bytes_allocated, 105u);
    EXPECT_EQ(first.live_blocks, 0u);
    EXPECT_EQ(first.live_bytes, 0u);
    const StackStats& second = model.stack_stats().at(2);
    EXPECT_EQ(second.allocations, 2u);
    EXPECT_EQ(second.bytes_allocated, 500u);
    EXPECT_EQ(second.live_blocks, 1u);
    EXPECT_EQ(second.live_bytes, 300u);
}

TEST(HeapModel, PeakIsTheFirstMomentOfMostLiveBytes) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0)
        .alloc(T0 + 100, 0x1, 100, 0) // 100
        .alloc(T0 + 200, 0x2, 200, 0) // 300
        .free(T0 + 300, 0x1)          // 200
        .alloc(T0 + 400, 0x3, 50, 0)  // 250
        .alloc(T0 + 500, 0x4, 60, 0)  // 310: the peak, 3 blocks
        .free(T0 + 600, 0x4)          // 250
        .alloc(T0 + 700, 0x5, 60, 0)  // 310 again: not a new peak
        .free(T0 + 800, 0x2)
        .free(T0 + 800, 0x3)
        .free(T0 + 900, 0x5);
    const HeapModel model = replay_dump(dump, dir);
    EXPECT_EQ(model.peak_bytes(), 310u);
    EXPECT_EQ(model.peak_blocks(), 3u);
    EXPECT_EQ(model.peak_time_ns(), T0 + 500);
    EXPECT_EQ(model.live_bytes(), 0u);
    EXPECT_TRUE(model.live_blocks().empty());
}

TEST(HeapModel, PeakAcrossThreadsFollowsTimeNotFileOrder) {
    TempDir dir;
    DumpBuilder dump;
    // In file order thread 2's big block would be freed before thread 1's block is allocated.
    dump.add_chunk(2, T0).alloc(T0 + 10, 0x2000, 1000, 0).free(T0 + 30, 0x2000);
    dump.add_chunk(1, T0).alloc(T0 + 20, 0x1000, 500, 0);
    const HeapModel model = replay_dump(dump, dir);
    EXPECT_EQ(model.peak_bytes(), 1500u);
    EXPECT_EQ(model.peak_time_ns(), T0 + 20);
}

TEST(HeapModel, CountsAnomaliesAndCarriesOn) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0)
        .stack(T0, 1, {0x1})
        .stack(T0, 2, {0x2})
        .free(T0 + 1, 0xdead) // never allocated (e.g. inherited over fork)
        .alloc(T0 + 2, 0x1000, 10, 1)
        .alloc(T0 + 3, 0x1000, 20, 2) // same address while live: replaces
        .free(T0 + 4, 0x1000)
        .free(T0 + 5, 0x1000); // double free
    const HeapModel model = replay_dump(dump, dir);
    EXPECT_EQ(model.totals().unknown_frees, 2u);
    EXPECT_EQ(model.totals().replaced_blocks, 1u);
    EXPECT_EQ(model.totals().allocations, 2u);
    EXPECT_EQ(model.totals().frees, 1u);
    EXPECT_TRUE(model.live_blocks().empty());
    EXPECT_EQ(model.live_bytes(), 0u);
    EXPECT_EQ(model.stack_stats().at(1).live_blocks, 0u);
    EXPECT_EQ(model.stack_stats().at(1).live_bytes, 0u);
    EXPECT_EQ(model.stack_stats().at(2).live_blocks, 0u);
    EXPECT_EQ(model.peak_bytes(), 20u);
}

TEST(HeapModel, ZeroSizedBlocksAreLiveBlocks) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).alloc(T0 + 1, 0x10, 0, 0).alloc(T0 + 2, 0x20, 0, 0).free(T0 + 3, 0x10);
    const HeapModel model = replay_dump(dump, dir);
    EXPECT_EQ(model.live_blocks().size(), 1u);
    EXPECT_EQ(model.live_bytes(), 0u);
    EXPECT_EQ(model.peak_bytes(), 0u);
    EXPECT_EQ(model.peak_time_ns(), 0u);
}

TEST(LeakTotals, SumsWhatIsLiveAtTheEnd) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0)
        .alloc(T0 + 1, 0x10, 7, 0)
        .alloc(T0 + 2, 0x20, 11, 0)
        .alloc(T0 + 3, 0x30, 13, 0)
        .free(T0 + 4, 0x20);
    dump.write(dir / "leaks.mtd");
    const LeakTotals totals = compute_leak_totals((dir / "leaks.mtd").string());
    EXPECT_EQ(totals.bytes, 20u);
    EXPECT_EQ(totals.blocks, 2u);
    EXPECT_TRUE(totals.complete);

    dump.header.end_reason = static_cast<uint32_t>(f::EndReason::Killed);
    dump.header.signal = 9;
    dump.header.clean = 0;
    dump.write(dir / "killed.mtd");
    EXPECT_FALSE(compute_leak_totals((dir / "killed.mtd").string()).complete);

    EXPECT_THROW(compute_leak_totals((dir / "absent.mtd").string()), DumpError);
}

TEST(LeakTotals, ReachableBlocksAreNotLeaks) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0)
        .alloc(T0 + 1, 0x10, 7, 0)
        .alloc(T0 + 2, 0x20, 11, 0)
        .alloc(T0 + 3, 0x30, 13, 0)
        .leak_scan(T0 + 4, {f::LeakScanStatus::Complete, 3, 1, 1, 1, 100})
        .leak_scan_blocks(T0 + 4, {0x10, 0x30}, {f::BlockKind::Definite, f::BlockKind::Indirect});
    dump.write(dir / "scanned.mtd");
    const LeakTotals totals = compute_leak_totals((dir / "scanned.mtd").string());
    EXPECT_TRUE(totals.scanned);
    EXPECT_EQ(totals.bytes, 20u);
    EXPECT_EQ(totals.blocks, 2u);
    EXPECT_EQ(totals.reachable_bytes, 11u);
    EXPECT_EQ(totals.reachable_blocks, 1u);
    EXPECT_FALSE(totals.estimated);
}

} // namespace
} // namespace memtrace::test
