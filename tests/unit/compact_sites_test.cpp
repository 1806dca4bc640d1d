// Site mode (compacted dump version 3, compact_sites.h): frees name the site of the block they
// release, not the block, and only blocks alive at the end keep their addresses. The heap
// model's figures must not change: after every event the live bytes and blocks, the anomalies,
// per stack figures, the survivors (address, size, stack, time) and the leak kinds.
#include "compact_format.h"
#include "compact_writer.h"
#include "dump_builder.h"
#include "dump_reader.h"
#include "heap_model.h"
#include "leak_kinds.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <random>
#include <tuple>

namespace memtrace::test {
namespace {

namespace f = memtrace::format;
namespace fs = std::filesystem;
constexpr uint64_t T0 = DumpBuilder::kStartNs;

CompactOptions site_mode() {
    CompactOptions options;
    options.time_quantum_ns = 1;
    options.progress = false;
    options.version = 3;
    return options;
}

compact::Header header_of(const fs::path& path) {
    compact::Header header{};
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(&header), sizeof(header));
    return header;
}

// Everything of an event but its address.
using EventFacts =
    std::tuple<HeapEvent::Type, f::AllocFunction, uint32_t, uint32_t, uint64_t, uint64_t>;
// The model's figures after one event.
using Figures = std::tuple<uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t>;

struct Replay {
    std::vector<EventFacts> events;
    std::vector<Figures> figures;
    std::vector<uint64_t> addresses;
    HeapModel model;
};

Replay replay_events(const DumpReader& reader) {
    Replay r;
    reader.for_each_event([&](const HeapEvent& e) {
        r.events.emplace_back(e.type, e.function, e.stack_id, e.thread_index, e.time_ns, e.size);
        r.addresses.push_back(e.address);
        r.model.apply(e);
        const HeapTotals& t = r.model.totals();
        r.figures.emplace_back(r.model.live_bytes(), r.model.live_block_count(), t.frees,
                               t.unknown_frees, t.replaced_blocks, r.model.peak_bytes());
    });
    return r;
}

// The raw dump at `raw` and its site-mode form agree on everything the heap model computes.
void expect_same_replay(const fs::path& raw_path) {
    const fs::path compacted_path = raw_path.parent_path() / "sites.mtd";
    write_compacted_dump(raw_path.string(), compacted_path.string(), site_mode());
    EXPECT_EQ(header_of(compacted_path).version, 3u);
    const DumpReader raw(raw_path.string());
    const DumpReader compacted(compacted_path.string());
    const Replay a = replay_events(raw);
    const Replay b = replay_events(compacted);
    EXPECT_EQ(b.events, a.events);
    EXPECT_EQ(b.figures, a.figures);
    ASSERT_EQ(b.model.stack_stats().size(), a.model.stack_stats().size());
    for (const auto& [stack, stats] : a.model.stack_stats()) {
        const StackStats& other = b.model.stack_stats().at(stack);
        EXPECT_EQ(
            std::tie(other.allocations, other.bytes_allocated, other.live_blocks, other.live_bytes),
            std::tie(stats.allocations, stats.bytes_allocated, stats.live_blocks,
                     stats.live_bytes));
    }
    // The survivors keep their sizes, stacks and times; those the leak scan lists (and those
    // that replaced a block) keep their addresses too. Every other address is synthetic, never
    // one the program could have used.
    using Facts = std::tuple<uint64_t, uint32_t, uint64_t>;
    std::vector<Facts> survivors_a, survivors_b;
    for (const auto& [address, block] : a.model.live_blocks())
        survivors_a.emplace_back(block.size, block.stack_id, block.time_ns);
    for (const auto& [address, block] : b.model.live_blocks())
        survivors_b.emplace_back(block.size, block.stack_id, block.time_ns);
    std::sort(survivors_a.begin(), survivors_a.end());
    std::sort(survivors_b.begin(), survivors_b.end());
    EXPECT_EQ(survivors_b, survivors_a);
    for (const auto& [address, kind] : raw.leak_scan().unreachable) {
        const auto live = a.model.live_blocks().find(address);
        if (live == a.model.live_blocks().end()) continue;
        const auto it = b.model.live_blocks().find(address);
        ASSERT_NE(it, b.model.live_blocks().end()) << std::hex << address;
        EXPECT_EQ(std::tie(it->second.size, it->second.stack_id, it->second.time_ns),
                  std::tie(live->second.size, live->second.stack_id, live->second.time_ns));
    }
    for (const uint64_t address : b.addresses) {
        if (!a.model.live_blocks().contains(address)) {
            EXPECT_GE(address, uint64_t{1} << 63) << std::hex << address;
        }
    }
    const LeakClassification kinds_a = classify_leaks(a.model, raw.leak_scan());
    const LeakClassification kinds_b = classify_leaks(b.model, compacted.leak_scan());
    for (size_t kind = 0; kind < kLeakKindCount; ++kind) {
        EXPECT_EQ(std::tie(kinds_b.totals[kind].bytes, kinds_b.totals[kind].blocks),
                  std::tie(kinds_a.totals[kind].bytes, kinds_a.totals[kind].blocks));
    }
}

TEST(CompactSites, AnomaliesStayAsTheRawDumpGivesThem) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0)
        .stack(T0, 1, {0x401000})
        .stack(T0, 2, {0x402000})
        .stack(T0, 3, {0x403000})
        .free(T0 + 1, 0xdead0) // never allocated
        .alloc(T0 + 2, 0x1000, 16, 1)
        .alloc(T0 + 3, 0x1000, 32, 2) // replaces a block that then never comes back
        .alloc(T0 + 4, 0x2000, 16, 1)
        .free(T0 + 5, 0x1000)
        .free(T0 + 6, 0x1000) // no longer live
        // A survivor that replaced a block that had replaced another: all three at 0x3000.
        .alloc(T0 + 7, 0x3000, 8, 1)
        .alloc(T0 + 8, 0x3000, 24, 3, f::AllocFunction::Calloc)
        .alloc(T0 + 9, 0x3000, 40, 2, f::AllocFunction::Realloc)
        .free(T0 + 10, 0x2000);
    dump.write(dir / "raw.mtd");
    const DumpReader raw((dir / "raw.mtd").string());
    const HeapModel model = replay(raw);
    ASSERT_EQ(model.totals().unknown_frees, 2u);
    ASSERT_EQ(model.totals().replaced_blocks, 3u);
    expect_same_replay(dir / "raw.mtd");
}

TEST(CompactSites, ReplacedBlockOfASiteWithOtherLiveBlocks) {
    // The replaced block's site has other live blocks: the decoder takes over one of them, and
    // the figures per site still add up.
    TempDir dir;
    DumpBuilder dump;
    ChunkBuilder& chunk = dump.add_chunk(1, T0).stack(T0, 1, {0x401000}).stack(T0, 2, {0x402000});
    for (uint64_t i = 0; i < 5; ++i)
        chunk.alloc(T0 + 1 + i, 0x1000 + i * 0x100, 64, 1);
    chunk
        .alloc(T0 + 10, 0x1200, 128, 2) // over the third block of site 1
        .free(T0 + 11, 0x1000)
        .free(T0 + 12, 0x1200)
        .free(T0 + 13, 0x1400)
        .alloc(T0 + 14, 0x1300, 64, 2); // over the fourth, and survives
    dump.write(dir / "raw.mtd");
    expect_same_replay(dir / "raw.mtd");
}

TEST(CompactSites, SurvivorsKeepTheirTimes) {
    // The block that survives was allocated after the leak scan (so it is "live", not
    // "reachable"); a free of its site after it released the older block. Pairing that free
    // with the newest block of the site would leave the older one, from before the scan.
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0)
        .stack(T0, 1, {0x401000})
        .alloc(T0 + 1, 0x1000, 16, 1)
        .leak_scan(T0 + 5, {f::LeakScanStatus::Complete, 1, 0, 0, 1, 10})
        .alloc(T0 + 10, 0x2000, 16, 1)
        .free(T0 + 11, 0x1000);
    dump.write(dir / "raw.mtd");
    const DumpReader raw((dir / "raw.mtd").string());
    const LeakClassification kinds = classify_leaks(replay(raw), raw.leak_scan());
    ASSERT_EQ(kinds.total(LeakKind::Live).blocks, 1u);
    expect_same_replay(dir / "raw.mtd");
}

TEST(CompactSites, ThreadsFreeEachOthersBlocks) {
    TempDir dir;
    DumpBuilder dump;
    std::mt19937_64 random(11);
    constexpr unsigned kThreads = 3;
    constexpr unsigned kEvents = 150'000;
    for (unsigned t = 1; t <= kThreads; ++t)
        dump.add_chunk(t, T0).stack(T0, t, {0x400000u + t * 0x100, 0x401000});
    // One sequence of events over all threads (each chunk in time order); any thread frees any
    // live block, realloc frees and allocates, and malloc hands freed addresses back.
    std::vector<std::pair<uint64_t, uint64_t>> live; // address, size
    std::vector<uint64_t> freed;
    uint64_t next_address = 0x10000000;
    uint64_t time = T0 + 1;
    const auto allocate = [&](ChunkBuilder& chunk, f::AllocFunction function, unsigned thread) {
        const uint64_t size = 8 * (1 + random() % 40);
        uint64_t address;
        if (!freed.empty() && random() % 3 != 0) {
            address = freed.back();
            freed.pop_back();
        } else {
            address = next_address;
            next_address += 16 + size;
        }
        chunk.alloc(time, address, size, 1 + random() % kThreads, function);
        (void)thread;
        live.emplace_back(address, size);
    };
    for (unsigned i = 0; i < kEvents; ++i) {
        time += 1 + random() % 50;
        const unsigned thread = random() % kThreads;
        ChunkBuilder& chunk = dump.chunks[thread];
        const unsigned what = random() % 8;
        if (!live.empty() && what < 3) {
            const size_t k = random() % live.size();
            chunk.free(time, live[k].first);
            freed.push_back(live[k].first);
            live[k] = live.back();
            live.pop_back();
        } else if (!live.empty() && what == 3) {
            // realloc to elsewhere: the old block freed, a new one allocated.
            const size_t k = random() % live.size();
            chunk.free(time, live[k].first);
            freed.insert(freed.begin(), live[k].first);
            live[k] = live.back();
            live.pop_back();
            allocate(chunk, f::AllocFunction::Realloc, thread);
        } else {
            allocate(chunk, static_cast<f::AllocFunction>(random() % 3), thread);
        }
        if (i == kEvents / 2) chunk.snapshot(time, f::SnapshotTrigger::Api, "half");
    }
    dump.chunks[0].leak_scan(time + 1, {f::LeakScanStatus::Complete, 3, 1, 1, 1, 10});
    dump.chunks[0].leak_scan_blocks(time + 1, {live[0].first, live[1].first},
                                    {f::BlockKind::Definite, f::BlockKind::Indirect});
    for (const ChunkBuilder& chunk : dump.chunks)
        ASSERT_LT(chunk.records().size(), f::kMaxChunkSize - 64);
    dump.write(dir / "raw.mtd");
    expect_same_replay(dir / "raw.mtd");

    // The snapshot sees the same heap.
    const DumpReader raw((dir / "raw.mtd").string());
    const DumpReader compacted((dir / "sites.mtd").string());
    std::vector<std::pair<uint64_t, uint64_t>> at_raw, at_compacted;
    replay(raw, [&](size_t, const HeapModel& m) {
        at_raw.emplace_back(m.live_bytes(), m.live_block_count());
    });
    replay(compacted, [&](size_t, const HeapModel& m) {
        at_compacted.emplace_back(m.live_bytes(), m.live_block_count());
    });
    ASSERT_EQ(at_raw.size(), 1u);
    EXPECT_EQ(at_compacted, at_raw);
}

TEST(CompactSites, VersionTwoOnRequest) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).stack(T0, 1, {0x401000}).alloc(T0 + 1, 0x1000, 8, 1).free(T0 + 2, 0x1000);
    dump.write(dir / "raw.mtd");
    CompactOptions options = site_mode();
    options.version = 0;
    ::setenv("MEMTRACE_COMPACT_VERSION", "2", 1);
    write_compacted_dump((dir / "raw.mtd").string(), (dir / "v2.mtd").string(), options);
    ::unsetenv("MEMTRACE_COMPACT_VERSION");
    write_compacted_dump((dir / "raw.mtd").string(), (dir / "v3.mtd").string(), options);
    EXPECT_EQ(header_of(dir / "v2.mtd").version, 2u);
    EXPECT_EQ(header_of(dir / "v3.mtd").version, 3u);
    // Version 2 keeps every address.
    std::vector<uint64_t> addresses;
    DumpReader((dir / "v2.mtd").string()).for_each_event([&](const HeapEvent& e) {
        addresses.push_back(e.address);
    });
    EXPECT_EQ(addresses, (std::vector<uint64_t>{0x1000, 0x1000}));
    options.version = 4;
    EXPECT_THROW(
        write_compacted_dump((dir / "raw.mtd").string(), (dir / "v4.mtd").string(), options),
        DumpError);
}

} // namespace
} // namespace memtrace::test
