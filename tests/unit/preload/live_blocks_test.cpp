// The leak scan's replay of the dump: per address the latest event wins across chunks, every
// other record kind is skipped, and damage is reported instead of read past.
#include "dump_builder.h"
#include "live_blocks.h"
#include "memtrace/record_encoding.h"

#include <cstring>
#include <gtest/gtest.h>
#include <vector>

namespace {

namespace fmt = memtrace::format;
namespace mp = memtrace::preload;
using memtrace::test::DumpBuilder;

struct Replayed {
    mp::ReplayResult result;
    std::vector<std::pair<uint64_t, uint64_t>> blocks; // address, size
    uint64_t events = 0;
};

Replayed replay(const DumpBuilder& dump) {
    const std::vector<uint8_t> bytes = dump.bytes();
    mp::ScanArena arena;
    mp::LiveBlocks live;
    Replayed out;
    out.result = mp::replay_live_blocks(bytes.data(), bytes.size(), arena, &live);
    for (size_t i = 0; i < live.count; ++i)
        out.blocks.emplace_back(live.blocks[i].address, live.blocks[i].size);
    out.events = live.events;
    return out;
}

// Encodes one record with an encoder from record_encoding.h into a byte vector.
template <typename Encode> std::vector<uint8_t> encoded(Encode&& encode) {
    std::vector<uint8_t> buffer(64 * 1024);
    uint8_t* end = encode(buffer.data());
    buffer.resize(static_cast<size_t>(end - buffer.data()));
    return buffer;
}

TEST(LiveBlocks, LatestEventPerAddressWinsAcrossChunks) {
    DumpBuilder dump;
    // Thread 1 allocates 0x1000 at t=10 and frees 0x2000 at t=30; thread 2 allocated 0x2000 at
    // t=20 and frees 0x1000 at t=5 (before the allocation: an earlier life of the address).
    dump.add_chunk(1, 1)
        .alloc(10, 0x1000, 64, 1)
        .free(30, 0x2000)
        .alloc(40, 0x3000, 0, 1); // malloc(0) is a live block of size 0
    dump.add_chunk(2, 1).free(5, 0x1000).alloc(20, 0x2000, 128, 1).alloc(50, 0x500, 8, 1);
    const Replayed r = replay(dump);
    ASSERT_EQ(r.result, mp::ReplayResult::Ok);
    EXPECT_EQ(r.events, 6u);
    const std::vector<std::pair<uint64_t, uint64_t>> expected = {
        {0x500, 8}, {0x1000, 64}, {0x3000, 0}};
    EXPECT_EQ(r.blocks, expected);
}

// One address's life read out of order: its blocks were allocated at t=10 (thread 3) and t=30
// (thread 1), freed at t=20 (thread 2) and t=40 (thread 1), and the chunks come in the file as
// 1, 2, 3. Thread 1's in-order alloc and free remove the address from the table; the older
// events that follow must not bring the t=10 block back to life (the free at t=20 leaves a
// tombstone, which the older alloc does not pass).
TEST(LiveBlocks, AnAddressFreedInOrderStaysFreedWhenOlderEventsComeLater) {
    DumpBuilder dump;
    dump.add_chunk(1, 1).alloc(30, 0x1000, 64, 1).free(40, 0x1000);
    dump.add_chunk(2, 1).free(20, 0x1000);
    dump.add_chunk(3, 1).alloc(10, 0x1000, 32, 1);
    EXPECT_TRUE(replay(dump).blocks.empty());
}

// An older free read after a newer allocation makes the address sticky: when that block's own
// free comes (from another thread) it must leave a tombstone, or the oldest allocation, read
// last, would look live.
TEST(LiveBlocks, OlderFreeReadLateKeepsTheAddressFromBeingRemoved) {
    DumpBuilder dump;
    dump.add_chunk(1, 1).alloc(30, 0x1000, 64, 1);
    dump.add_chunk(2, 1).free(20, 0x1000);
    dump.add_chunk(4, 1).free(40, 0x1000);
    dump.add_chunk(3, 1).alloc(10, 0x1000, 32, 1);
    EXPECT_TRUE(replay(dump).blocks.empty());
}

// The same events with the older ones read first, and a last allocation at t=50 that is live:
// once an event came out of order the address keeps a tombstone, whatever the order.
TEST(LiveBlocks, OutOfOrderAddressKeepsItsLatestEvent) {
    DumpBuilder dump;
    dump.add_chunk(3, 1).alloc(10, 0x1000, 32, 1);
    dump.add_chunk(1, 1).alloc(30, 0x1000, 64, 1).free(40, 0x1000);
    dump.add_chunk(2, 1).free(20, 0x1000).alloc(50, 0x1000, 16, 1);
    const std::vector<std::pair<uint64_t, uint64_t>> expected = {{0x1000, 16}};
    EXPECT_EQ(replay(dump).blocks, expected);
}

// Many blocks allocated and freed in order by one thread, among ones that stay: the freed
// addresses leave the table (moving the entries after them back) without losing a live one.
TEST(LiveBlocks, FreedAddressesLeaveTheTableWithoutLosingLiveOnes) {
    DumpBuilder dump;
    auto& chunk = dump.add_chunk(1, 1);
    std::vector<std::pair<uint64_t, uint64_t>> expected;
    uint64_t time = 1;
    for (uint64_t i = 0; i < 200000; ++i) {
        const uint64_t address = 0x100000 + i * 16;
        chunk.alloc(time++, address, i % 100, 1);
        if (i % 7 == 0) {
            expected.emplace_back(address, i % 100);
        } else {
            chunk.free(time++, address);
        }
    }
    const Replayed r = replay(dump);
    ASSERT_EQ(r.result, mp::ReplayResult::Ok);
    EXPECT_EQ(r.blocks, expected);
}

TEST(LiveBlocks, EqualTimesGoToTheChunkLaterInTheFile) {
    DumpBuilder dump;
    dump.add_chunk(1, 1).alloc(10, 0x1000, 64, 1);
    dump.add_chunk(2, 1).free(10, 0x1000);
    EXPECT_TRUE(replay(dump).blocks.empty());
}

TEST(LiveBlocks, EveryOtherRecordKindIsSkipped) {
    DumpBuilder dump;
    auto& chunk = dump.add_chunk(1, 1);
    chunk.process_info(1, "/bin/x", std::string("x\0", 2))
        .module_load(2, 1, 0x400000, 0x400000, 0x401000, "abc", "/bin/x")
        .stack(3, 1, {0x401000, 0x401010, 0x400f00})
        .alloc(4, 0x1000, 64, 1)
        .module_unload(5, 1);
    const fmt::SizeClassCounts classes[fmt::kSizeClassCount] = {};
    chunk.raw(encoded([&](uint8_t* out) {
        return fmt::encode_size_class_totals(out, 1, classes, fmt::kSizeClassCount);
    }));
    chunk.raw(encoded([](uint8_t* out) {
        return fmt::encode_snapshot(out, 1, fmt::SnapshotTrigger::Api, "L", 1);
    }));
    chunk.raw(encoded([](uint8_t* out) {
        return fmt::encode_process_memory(out, 1, fmt::ProcessMemory{1, 2, 3, 4, 5, 6});
    }));
    chunk.raw(
        encoded([](uint8_t* out) { return fmt::encode_malloc_info(out, 1, "<malloc/>", 9); }));
    chunk.raw(
        encoded([](uint8_t* out) { return fmt::encode_map(out, 1, 0x7000, 4096, 3, 0x22, 1); }));
    chunk.raw(encoded([](uint8_t* out) { return fmt::encode_unmap(out, 1, 0x7000, 4096); }));
    chunk.raw(encoded(
        [](uint8_t* out) { return fmt::encode_remap(out, 1, 0x7000, 4096, 0x9000, 8192, 1); }));
    chunk.raw(encoded(
        [](uint8_t* out) { return fmt::encode_note(out, 1, fmt::NoteCode::Info, "hi", 2); }));
    chunk.raw(encoded([](uint8_t* out) {
        return fmt::encode_leak_scan_summary(
            out, 1, fmt::LeakScanSummary{fmt::LeakScanStatus::Complete, 1, 1, 0, 0, 99});
    }));
    const uint64_t addresses[] = {0x1000};
    const fmt::BlockKind kinds[] = {fmt::BlockKind::Definite};
    chunk.raw(encoded(
        [&](uint8_t* out) { return fmt::encode_leak_scan_blocks(out, 1, addresses, kinds, 1); }));
    // The address delta continues from the Alloc before all those records.
    chunk.alloc(100, 0x1040, 32, 1);
    const Replayed r = replay(dump);
    ASSERT_EQ(r.result, mp::ReplayResult::Ok);
    const std::vector<std::pair<uint64_t, uint64_t>> expected = {{0x1000, 64}, {0x1040, 32}};
    EXPECT_EQ(r.blocks, expected);
}

TEST(LiveBlocks, UnknownKindIsABadRecord) {
    DumpBuilder dump;
    dump.add_chunk(1, 1).alloc(1, 0x1000, 8, 1).raw({0x0f, 0x00});
    EXPECT_EQ(replay(dump).result, mp::ReplayResult::BadRecord);
}

TEST(LiveBlocks, TruncatedRecordIsABadRecord) {
    DumpBuilder dump;
    dump.add_chunk(1, 1).raw({0x01, 0x00, 0x80}); // Alloc whose address varint never ends
    EXPECT_EQ(replay(dump).result, mp::ReplayResult::BadRecord);
}

TEST(LiveBlocks, ChunkWithBadMagicOrCapacityIsABadChunk) {
    {
        DumpBuilder dump;
        dump.add_chunk(1, 1).alloc(1, 0x1000, 8, 1).magic = 0x12345678;
        EXPECT_EQ(replay(dump).result, mp::ReplayResult::BadChunk);
    }
    {
        DumpBuilder dump;
        dump.add_chunk(1, 1).alloc(1, 0x1000, 8, 1).committed = 1u << 30;
        EXPECT_EQ(replay(dump).result, mp::ReplayResult::BadChunk);
    }
}

TEST(LiveBlocks, ManyAddressesGrowTheTable) {
    DumpBuilder dump;
    auto& chunk = dump.add_chunk(1, 1);
    constexpr uint64_t kCount = 200000; // several rehashes from the initial 64 Ki slots
    for (uint64_t i = 0; i < kCount; ++i)
        chunk.alloc(1 + i, 0x10000 + i * 16, 8, 1);
    for (uint64_t i = 0; i < kCount; i += 2)
        chunk.free(1 + kCount + i, 0x10000 + i * 16);
    const Replayed r = replay(dump);
    ASSERT_EQ(r.result, mp::ReplayResult::Ok);
    ASSERT_EQ(r.blocks.size(), kCount / 2);
    for (size_t i = 0; i < r.blocks.size(); ++i)
        ASSERT_EQ(r.blocks[i].first, 0x10000 + (2 * i + 1) * 16);
}

} // namespace

namespace {

TEST(LiveBlocks, TailGoesOnWhereTheReplayStopped) {
    DumpBuilder dump;
    auto& first = dump.add_chunk(1, 1);
    first.alloc(10, 0x1000, 16, 1).alloc(20, 0x2000, 32, 1); // read by the replay
    first.free(30, 0x1000).alloc(40, 0x3000, 48, 1);         // written during the scan
    const uint32_t replayed = static_cast<uint32_t>(first.record_offset(2));
    first.committed = replayed;
    dump.add_chunk(2, 1).free(50, 0x2000).alloc(60, 0x4000, 64, 1); // a chunk taken since
    std::vector<uint8_t> bytes = dump.bytes();
    const uint64_t first_end = dump.chunk_offset(1);

    mp::ScanArena arena;
    mp::LiveBlocks live;
    ASSERT_EQ(mp::replay_live_blocks(bytes.data(), first_end, arena, &live), mp::ReplayResult::Ok);
    ASSERT_EQ(live.count, 2u);
    // The writer commits the rest of the first chunk.
    // (dump.chunks, not `first`: adding the second chunk may have moved the first.)
    const uint32_t all = static_cast<uint32_t>(dump.chunks[0].records().size());
    memcpy(bytes.data() + dump.chunk_offset(0) + 8, &all, sizeof(all));

    struct Event {
        bool alloc;
        uint64_t address, size;
        bool operator==(const Event&) const = default;
    };
    std::vector<Event> events;
    ASSERT_EQ(
        mp::replay_tail(
            bytes.data(), bytes.size(), live,
            [](void* context, bool is_alloc, uint64_t address, uint64_t size) {
                static_cast<std::vector<Event>*>(context)->push_back({is_alloc, address, size});
            },
            &events),
        mp::ReplayResult::Ok);
    const std::vector<Event> expected = {
        {false, 0x1000, 0}, {true, 0x3000, 48}, {false, 0x2000, 0}, {true, 0x4000, 64}};
    EXPECT_EQ(events, expected);
}

} // namespace
