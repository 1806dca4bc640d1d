// The records of format version 2 read back through DumpReader, and the replay's snapshots and
// sampling weights.
#include "dump_builder.h"
#include "dump_reader.h"
#include "heap_model.h"

#include <cmath>
#include <gtest/gtest.h>

namespace memtrace::test {
namespace {

namespace f = memtrace::format;
constexpr uint64_t T0 = DumpBuilder::kStartNs;

TEST(DumpReaderV2, ReadsBackEveryNewRecordKind) {
    TempDir dir;
    DumpBuilder dump;
    std::vector<f::SizeClassCounts> classes(3);
    classes[0] = {5, 30, 120, 2, 48};
    classes[2] = {1, 24, 24, 0, 0};
    // Two threads, with the second thread's records earlier in time than the first's.
    dump.add_chunk(1, T0)
        .stack(T0, 7, {0x401000, 0x402000})
        .snapshot(T0 + 300, f::SnapshotTrigger::Api, "after-warmup")
        .process_memory(T0 + 300, {4096 * 10, 1 << 20, 4096 * 12, 4096 * 8, 4096 * 2, 3})
        .malloc_info(T0 + 300, "<malloc version=\"1\"></malloc>\n")
        .size_class_totals(T0 + 300, classes)
        .note(T0 + 400, f::NoteCode::SnapshotSignalTaken, "SIGUSR2 has a handler")
        .leak_scan(T0 + 500, {f::LeakScanStatus::Complete, 4, 1, 2, 1, 12345})
        .leak_scan_blocks(T0 + 500, {0x9000, 0x8000, 0xa000},
                          {f::BlockKind::Definite, f::BlockKind::Indirect, f::BlockKind::Indirect});
    dump.add_chunk(2, T0)
        .snapshot(T0 + 100, f::SnapshotTrigger::Interval, "")
        .map(T0 + 150, 0x7f0000000000, 8 << 20, 3, 0x22, 7)
        .remap(T0 + 160, 0x7f0000000000, 8 << 20, 0x7f1000000000, 16 << 20, 7)
        .unmap(T0 + 170, 0x7f1000000000, 16 << 20);
    dump.write(dir / "v2.mtd");
    const DumpReader reader((dir / "v2.mtd").string());

    ASSERT_EQ(reader.snapshots().size(), 2u);
    EXPECT_EQ(reader.snapshots()[0].time_ns, T0 + 100);
    EXPECT_EQ(reader.snapshots()[0].trigger, f::SnapshotTrigger::Interval);
    EXPECT_EQ(reader.snapshots()[0].thread_index, 2u);
    EXPECT_EQ(reader.snapshots()[1].label, "after-warmup");
    EXPECT_EQ(reader.snapshots()[1].trigger, f::SnapshotTrigger::Api);

    ASSERT_EQ(reader.memory_samples().size(), 1u);
    EXPECT_EQ(reader.memory_samples()[0].memory.vm_rss, 40960u);
    EXPECT_EQ(reader.memory_samples()[0].memory.vm_size, 1u << 20);
    EXPECT_EQ(reader.memory_samples()[0].memory.threads, 3u);
    ASSERT_EQ(reader.malloc_info_samples().size(), 1u);
    EXPECT_EQ(reader.malloc_info_samples()[0].xml, "<malloc version=\"1\"></malloc>\n");

    ASSERT_EQ(reader.size_class_samples().size(), 1u);
    const auto& read = reader.size_class_samples()[0].classes;
    ASSERT_EQ(read.size(), f::kSizeClassCount); // padded with empty classes
    EXPECT_EQ(read[0].count, 5u);
    EXPECT_EQ(read[0].freed_usable_bytes, 48u);
    EXPECT_EQ(read[2].requested_bytes, 24u);
    EXPECT_EQ(read[3].count, 0u);

    ASSERT_EQ(reader.memory_map_events().size(), 3u);
    const MemoryMapEvent& map = reader.memory_map_events()[0];
    EXPECT_EQ(map.op, f::MemoryMapOp::Map);
    EXPECT_EQ(map.address, 0x7f0000000000u);
    EXPECT_EQ(map.length, 8u << 20);
    EXPECT_EQ(map.prot, 3u);
    EXPECT_EQ(map.flags, 0x22u);
    EXPECT_EQ(map.stack_id, 7u);
    const MemoryMapEvent& remap = reader.memory_map_events()[1];
    EXPECT_EQ(remap.op, f::MemoryMapOp::Remap);
    EXPECT_EQ(remap.new_address, 0x7f1000000000u);
    EXPECT_EQ(remap.new_length, 16u << 20);
    EXPECT_EQ(reader.memory_map_events()[2].op, f::MemoryMapOp::Unmap);

    ASSERT_EQ(reader.notes().size(), 1u);
    EXPECT_EQ(reader.notes()[0].code, f::NoteCode::SnapshotSignalTaken);
    EXPECT_EQ(reader.notes()[0].text, "SIGUSR2 has a handler");

    const LeakScanResult& scan = reader.leak_scan();
    ASSERT_TRUE(scan.present);
    EXPECT_EQ(scan.status, f::LeakScanStatus::Complete);
    EXPECT_EQ(scan.live_blocks, 4u);
    EXPECT_EQ(scan.definite_blocks, 1u);
    EXPECT_EQ(scan.indirect_blocks, 2u);
    EXPECT_EQ(scan.reachable_blocks, 1u);
    EXPECT_EQ(scan.scan_ns, 12345u);
    ASSERT_EQ(scan.unreachable.size(), 3u);
    EXPECT_EQ(scan.unreachable.at(0x9000), f::BlockKind::Definite);
    EXPECT_EQ(scan.unreachable.at(0x8000), f::BlockKind::Indirect);
    EXPECT_EQ(scan.unreachable.at(0xa000), f::BlockKind::Indirect);
}

TEST(DumpReaderV2, NoScanMeansNotPresent) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).stack(T0, 1, {0x401000}).alloc(T0 + 1, 0x1000, 8, 1);
    dump.write(dir / "d.mtd");
    const DumpReader reader((dir / "d.mtd").string());
    EXPECT_FALSE(reader.leak_scan().present);
    EXPECT_FALSE(reader.sampled());
    EXPECT_TRUE(reader.snapshots().empty());
}

TEST(DumpReaderV2, LeakScanBlocksWithoutSummaryIsAnError) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).leak_scan_blocks(T0 + 1, {0x1000}, {f::BlockKind::Definite});
    dump.write(dir / "d.mtd");
    EXPECT_THROW(DumpReader((dir / "d.mtd").string()), DumpError);
}

TEST(DumpReaderV2, UnknownSnapshotTriggerIsAnError) {
    TempDir dir;
    DumpBuilder dump;
    // kind Snapshot, time delta 1, trigger 9, empty label
    dump.add_chunk(1, T0).raw({static_cast<uint8_t>(f::RecordKind::Snapshot), 1, 9, 0});
    dump.write(dir / "d.mtd");
    EXPECT_THROW(DumpReader((dir / "d.mtd").string()), DumpError);
}

TEST(Replay, SnapshotsSeeEveryEventUpToTheirTime) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0)
        .stack(T0, 1, {0x401000})
        .alloc(T0 + 10, 0x1000, 100, 1)
        .snapshot(T0 + 20, f::SnapshotTrigger::Api, "one")
        .alloc(T0 + 30, 0x2000, 50, 1)
        .free(T0 + 40, 0x1000)
        .snapshot(T0 + 50, f::SnapshotTrigger::Api, "two")
        .snapshot(T0 + 60, f::SnapshotTrigger::Exit, "exit");
    // Another thread's event at exactly the first snapshot's time counts in it.
    dump.add_chunk(2, T0).stack(T0, 2, {0x402000}).alloc(T0 + 20, 0x3000, 7, 2);
    dump.write(dir / "d.mtd");
    const DumpReader reader((dir / "d.mtd").string());
    std::vector<std::pair<uint64_t, uint64_t>> seen; // live bytes, live blocks
    const HeapModel model = replay(reader, [&](size_t index, const HeapModel& at) {
        EXPECT_EQ(index, seen.size());
        seen.emplace_back(at.live_bytes(), at.live_block_count());
    });
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0], std::make_pair(uint64_t{107}, uint64_t{2}));
    EXPECT_EQ(seen[1], std::make_pair(uint64_t{57}, uint64_t{2}));
    EXPECT_EQ(seen[2], std::make_pair(uint64_t{57}, uint64_t{2}));
    EXPECT_EQ(model.live_bytes(), 57u);
}

TEST(Replay, SnapshotsBetweenBatchesSeeExactlyTheEventsBeforeThem) {
    // Many more events than one batch of the replay, snapshots at batch boundaries and
    // inside batches, several at the same moment, and events at a snapshot's exact time.
    TempDir dir;
    DumpBuilder dump;
    ChunkBuilder& chunk = dump.add_chunk(1, T0).stack(T0, 1, {0x401000});
    std::vector<uint64_t> snapshot_times;
    uint64_t live = 0;
    std::vector<uint64_t> expected; // live bytes at each snapshot
    for (uint64_t i = 0; i < 30000; ++i) {
        const uint64_t time = T0 + 1 + i / 2;
        if (i % 3 == 2) {
            chunk.free(time, 0x10000 + (i - 1) * 16);
            live -= (i - 1) % 100;
        } else {
            chunk.alloc(time, 0x10000 + i * 16, i % 100, 1);
            live += i % 100;
        }
        if (i == 4095 || i == 4096 || i == 9001 || i == 20000 || i == 29999) {
            const uint64_t at = time + (i % 2); // odd i: after the event's time
            // Events of the same time as the snapshot still to come count in it.
            uint64_t live_at = live;
            for (uint64_t j = i + 1; j < 30000 && T0 + 1 + j / 2 <= at; ++j)
                live_at = j % 3 == 2 ? live_at - (j - 1) % 100 : live_at + j % 100;
            snapshot_times.push_back(at);
            expected.push_back(live_at);
            if (i == 9001) {
                snapshot_times.push_back(at);
                expected.push_back(live_at);
            }
        }
    }
    ChunkBuilder& snapshots = dump.add_chunk(2, T0);
    for (const uint64_t time : snapshot_times)
        snapshots.snapshot(time, f::SnapshotTrigger::Api, "");
    dump.write(dir / "d.mtd");
    const DumpReader reader((dir / "d.mtd").string());
    std::vector<uint64_t> seen;
    const HeapModel model = replay(reader, [&](size_t index, const HeapModel& at) {
        EXPECT_EQ(index, seen.size());
        seen.push_back(at.live_bytes());
    });
    EXPECT_EQ(seen, expected);
    EXPECT_EQ(model.live_bytes(), live);
}

TEST(Replay, SampledBlocksStandForOneOverTheirSamplingChance) {
    TempDir dir;
    DumpBuilder dump;
    dump.header.sample_bytes = 1024;
    dump.header.flags |= f::kFlagSampled;
    dump.add_chunk(1, T0)
        .stack(T0, 1, {0x401000})
        .alloc(T0 + 1, 0x1000, 64, 1)      // p = 1 - e^(-1/16)
        .alloc(T0 + 2, 0x2000, 1 << 20, 1) // p ~ 1
        .alloc(T0 + 3, 0x3000, 32, 1)
        .free(T0 + 4, 0x3000);
    dump.write(dir / "d.mtd");
    const DumpReader reader((dir / "d.mtd").string());
    ASSERT_TRUE(reader.sampled());
    const HeapModel model = replay(reader);
    const double p64 = -std::expm1(-64.0 / 1024.0);
    EXPECT_EQ(model.live_block_count(), static_cast<uint64_t>(std::llround(1 / p64)) + 1);
    EXPECT_EQ(model.live_bytes(),
              static_cast<uint64_t>(std::llround(64 / p64)) + (uint64_t{1} << 20));
    EXPECT_TRUE(model.sampled());
    // A small block stands for about one sampling interval of bytes.
    EXPECT_NEAR(static_cast<double>(sample_weight(8, 1 << 19).bytes), 1 << 19, 8.0);
}

} // namespace
} // namespace memtrace::test
