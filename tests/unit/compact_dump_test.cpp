// Compaction round trips: a raw dump crafted with every record kind, compacted, must read back
// through DumpReader exactly as the raw dump does (stacks, modules, snapshots, samples, leak
// scan, header facts, and every event in order), and the in-place replacement must never lose
// the raw dump.
#include "compact_format.h"
#include "compact_writer.h"
#include "dump_builder.h"
#include "dump_reader.h"
#include "heap_model.h"
#include "log_capture.h"
#include "memtrace/varint.h"

#include <algorithm>
#include <cstring>
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

// Version 2, which keeps every address: these tests compare events exactly. Site mode (version
// 3) has its own tests (compact_sites_test.cpp).
CompactOptions exact() {
    CompactOptions options;
    options.time_quantum_ns = 1;
    options.progress = false;
    options.version = 2;
    return options;
}

// Every record kind, three threads whose chunks overlap in time, events of every allocation
// function, a free of an unknown address, an allocation over a live block, and addresses that
// come back after a free (as malloc hands them out).
DumpBuilder every_record_kind() {
    DumpBuilder dump;
    dump.header.flags |= f::kFlagStackTableFull;
    dump.header.snapshot_signal = 12;
    dump.header.snapshot_interval_ms = 250;
    std::vector<f::SizeClassCounts> classes(f::kSizeClassCount);
    classes[0] = {5, 30, 120, 2, 48};
    classes[70] = {1, 5000, 5008, 1, 5008};
    dump.add_chunk(1, T0)
        .process_info(T0 + 1, "/usr/bin/victim", std::string("victim\0-v\0", 10))
        .module_load(T0 + 2, 1, 0x7f0000000000, 0x7f0000000000, 0x7f0000100000, "\xaa\xbb",
                     "/nonexistent/libvictim.so")
        .stack(T0 + 3, 1, {0x401000, 0x402000})
        .alloc(T0 + 10, 0x10000, 64, 1)
        .alloc(T0 + 11, 0x20000, 128, 1, f::AllocFunction::Calloc)
        .free(T0 + 12, 0x10000)
        .alloc(T0 + 13, 0x10000, 60, 1) // same address again, as malloc's cache gives it back
        .snapshot(T0 + 20, f::SnapshotTrigger::Api, "after-warmup")
        .process_memory(T0 + 20, {4096 * 10, 1 << 20, 4096 * 12, 4096 * 8, 4096 * 2, 3})
        .malloc_info(T0 + 20, "<malloc version=\"1\"></malloc>\n")
        .size_class_totals(T0 + 20, classes)
        .free(T0 + 21, 0xdead0)                                    // never allocated
        .alloc(T0 + 22, 0x20000, 32, 1, f::AllocFunction::Realloc) // over a live block
        .module_unload(T0 + 40, 1)
        .note(T0 + 41, f::NoteCode::SnapshotSignalTaken, "SIGUSR2 has a handler")
        .leak_scan(T0 + 50, {f::LeakScanStatus::Complete, 3, 1, 1, 1, 12345})
        .leak_scan_blocks(T0 + 50, {0x20000, 0x30000},
                          {f::BlockKind::Definite, f::BlockKind::Indirect})
        .snapshot(T0 + 51, f::SnapshotTrigger::Exit, "");
    dump.add_chunk(2, T0 + 5)
        .stack(T0 + 5, 2, {0x403000}, true)
        .alloc(T0 + 11, 0x30000, 256, 2, f::AllocFunction::Aligned) // same time as thread 1
        .map(T0 + 15, 0x7f1000000000, 8 << 20, 3, 0x22, 2)
        .remap(T0 + 16, 0x7f1000000000, 8 << 20, 0x7f2000000000, 16 << 20, 2)
        .unmap(T0 + 17, 0x7f2000000000, 16 << 20)
        .free(T0 + 18, 0x20000) // a block of thread 1
        .alloc(T0 + 19, 0x20000, 100, 2)
        .snapshot(T0 + 30, f::SnapshotTrigger::Signal, "usr2");
    dump.add_chunk(3, T0 + 8)
        .stack(T0 + 8, 3, {0x404000, 0x405000, 0x404000})
        .alloc(T0 + 9, 0x40000, 1, 3);
    return dump;
}

using EventTuple =
    std::tuple<HeapEvent::Type, f::AllocFunction, uint32_t, uint32_t, uint64_t, uint64_t, uint64_t>;

std::vector<EventTuple> events_of(const DumpReader& reader) {
    std::vector<EventTuple> events;
    reader.for_each_event([&](const HeapEvent& e) {
        events.emplace_back(e.type, e.function, e.stack_id, e.thread_index, e.time_ns, e.address,
                            e.size);
    });
    return events;
}

void expect_same_metadata(const DumpReader& raw, const DumpReader& compacted) {
    EXPECT_FALSE(raw.compacted());
    EXPECT_TRUE(compacted.compacted());
    EXPECT_EQ(std::memcmp(&raw.header(), &compacted.header(), sizeof(f::FileHeader)), 0);
    EXPECT_EQ(raw.event_count(), compacted.event_count());
    EXPECT_EQ(raw.thread_count(), compacted.thread_count());
    EXPECT_EQ(raw.last_record_time_ns(), compacted.last_record_time_ns());
    EXPECT_EQ(raw.end_time_ns(), compacted.end_time_ns());
    EXPECT_EQ(raw.complete(), compacted.complete());
    EXPECT_EQ(raw.cut_short(), compacted.cut_short());
    EXPECT_EQ(raw.sample_bytes(), compacted.sample_bytes());

    EXPECT_EQ(raw.process().recorded, compacted.process().recorded);
    EXPECT_EQ(raw.process().exe_path, compacted.process().exe_path);
    EXPECT_EQ(raw.process().argv, compacted.process().argv);

    ASSERT_EQ(raw.modules().size(), compacted.modules().size());
    for (size_t i = 0; i < raw.modules().size(); ++i) {
        const ModuleInfo& a = raw.modules()[i];
        const ModuleInfo& b = compacted.modules()[i];
        EXPECT_EQ(std::tie(a.id, a.path, a.build_id, a.load_bias, a.start, a.end, a.load_time_ns,
                           a.unload_time_ns),
                  std::tie(b.id, b.path, b.build_id, b.load_bias, b.start, b.end, b.load_time_ns,
                           b.unload_time_ns));
    }
    ASSERT_EQ(raw.stack_count(), compacted.stack_count());
    for (uint32_t id = 1; id <= raw.stack_count(); ++id) {
        const StackTrace* a = raw.find_stack(id);
        const StackTrace* b = compacted.find_stack(id);
        ASSERT_NE(a, nullptr);
        ASSERT_NE(b, nullptr);
        EXPECT_EQ(a->frames, b->frames);
        EXPECT_EQ(a->truncated, b->truncated);
        EXPECT_EQ(a->time_ns, b->time_ns);
    }

    ASSERT_EQ(raw.snapshots().size(), compacted.snapshots().size());
    for (size_t i = 0; i < raw.snapshots().size(); ++i) {
        const SnapshotMark& a = raw.snapshots()[i];
        const SnapshotMark& b = compacted.snapshots()[i];
        EXPECT_EQ(std::tie(a.time_ns, a.trigger, a.label, a.thread_index),
                  std::tie(b.time_ns, b.trigger, b.label, b.thread_index));
    }
    ASSERT_EQ(raw.memory_samples().size(), compacted.memory_samples().size());
    for (size_t i = 0; i < raw.memory_samples().size(); ++i) {
        EXPECT_EQ(raw.memory_samples()[i].time_ns, compacted.memory_samples()[i].time_ns);
        EXPECT_EQ(std::memcmp(&raw.memory_samples()[i].memory,
                              &compacted.memory_samples()[i].memory, sizeof(f::ProcessMemory)),
                  0);
    }
    ASSERT_EQ(raw.malloc_info_samples().size(), compacted.malloc_info_samples().size());
    for (size_t i = 0; i < raw.malloc_info_samples().size(); ++i)
        EXPECT_EQ(raw.malloc_info_samples()[i].xml, compacted.malloc_info_samples()[i].xml);
    ASSERT_EQ(raw.size_class_samples().size(), compacted.size_class_samples().size());
    for (size_t i = 0; i < raw.size_class_samples().size(); ++i) {
        const auto& a = raw.size_class_samples()[i].classes;
        const auto& b = compacted.size_class_samples()[i].classes;
        ASSERT_EQ(a.size(), b.size());
        EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])), 0);
    }
    ASSERT_EQ(raw.memory_map_events().size(), compacted.memory_map_events().size());
    for (size_t i = 0; i < raw.memory_map_events().size(); ++i) {
        const MemoryMapEvent& a = raw.memory_map_events()[i];
        const MemoryMapEvent& b = compacted.memory_map_events()[i];
        EXPECT_EQ(std::tie(a.op, a.time_ns, a.address, a.length, a.new_address, a.new_length,
                           a.prot, a.flags, a.stack_id, a.thread_index),
                  std::tie(b.op, b.time_ns, b.address, b.length, b.new_address, b.new_length,
                           b.prot, b.flags, b.stack_id, b.thread_index));
    }
    ASSERT_EQ(raw.notes().size(), compacted.notes().size());
    for (size_t i = 0; i < raw.notes().size(); ++i) {
        EXPECT_EQ(std::tie(raw.notes()[i].time_ns, raw.notes()[i].code, raw.notes()[i].text),
                  std::tie(compacted.notes()[i].time_ns, compacted.notes()[i].code,
                           compacted.notes()[i].text));
    }
    const LeakScanResult& a = raw.leak_scan();
    const LeakScanResult& b = compacted.leak_scan();
    EXPECT_EQ(std::tie(a.present, a.status, a.time_ns, a.live_blocks, a.definite_blocks,
                       a.indirect_blocks, a.reachable_blocks, a.scan_ns, a.unreachable),
              std::tie(b.present, b.status, b.time_ns, b.live_blocks, b.definite_blocks,
                       b.indirect_blocks, b.reachable_blocks, b.scan_ns, b.unreachable));
}

TEST(CompactDump, EveryRecordKindReadsBackTheSame) {
    TempDir dir;
    every_record_kind().write(dir / "raw.mtd");
    const CompactResult result =
        write_compacted_dump((dir / "raw.mtd").string(), (dir / "c.mtd").string(), exact());
    EXPECT_EQ(result.events, 10u);
    EXPECT_TRUE(is_compacted_dump((dir / "c.mtd").string()));
    EXPECT_FALSE(is_compacted_dump((dir / "raw.mtd").string()));

    const DumpReader raw((dir / "raw.mtd").string());
    const DumpReader compacted((dir / "c.mtd").string());
    ASSERT_EQ(raw.snapshots().size(), 3u); // the crafted dump has what the test means it to
    ASSERT_TRUE(raw.leak_scan().present);
    ASSERT_EQ(raw.modules().size(), 1u);
    EXPECT_NE(raw.modules()[0].unload_time_ns, UINT64_MAX);
    expect_same_metadata(raw, compacted);
    const std::vector<EventTuple> events = events_of(raw);
    ASSERT_EQ(events.size(), 10u);
    EXPECT_EQ(events_of(compacted), events);
}

TEST(CompactDump, ReplayGivesTheSameFiguresAndSnapshots) {
    TempDir dir;
    every_record_kind().write(dir / "raw.mtd");
    // Default options: event times are coarsened, yet no event crosses a snapshot.
    CompactOptions options;
    options.progress = false;
    ASSERT_GT(options.time_quantum_ns, 100u);
    write_compacted_dump((dir / "raw.mtd").string(), (dir / "c.mtd").string(), options);
    const DumpReader raw((dir / "raw.mtd").string());
    const DumpReader compacted((dir / "c.mtd").string());
    expect_same_metadata(raw, compacted);

    std::vector<std::pair<uint64_t, uint64_t>> raw_snapshots, compacted_snapshots;
    const HeapModel a = replay(raw, [&](size_t, const HeapModel& m) {
        raw_snapshots.emplace_back(m.live_bytes(), m.live_block_count());
    });
    const HeapModel b = replay(compacted, [&](size_t, const HeapModel& m) {
        compacted_snapshots.emplace_back(m.live_bytes(), m.live_block_count());
    });
    ASSERT_EQ(raw_snapshots.size(), 3u);
    // The first snapshot (T0+20) sees 64+128-64+60 live from thread 1, 256 from thread 2's
    // aligned block and 1 from thread 3.
    EXPECT_EQ(raw_snapshots[0].first, 128u + 60 + 256 + 1 - 128 + 100);
    EXPECT_EQ(compacted_snapshots, raw_snapshots);
    EXPECT_EQ(a.live_bytes(), b.live_bytes());
    EXPECT_EQ(a.live_block_count(), b.live_block_count());
    EXPECT_EQ(a.peak_bytes(), b.peak_bytes());
    EXPECT_EQ(a.totals().unknown_frees, b.totals().unknown_frees);
    EXPECT_EQ(a.totals().replaced_blocks, b.totals().replaced_blocks);
    EXPECT_EQ(a.totals().unknown_frees, 1u);
    EXPECT_EQ(a.totals().replaced_blocks, 1u);
    // Site mode (the default) keeps the addresses of the survivors the leak scan lists; the
    // others are named by their facts.
    ASSERT_EQ(a.live_blocks().size(), b.live_blocks().size());
    for (const auto& [address, block] : a.live_blocks()) {
        const auto it = raw.leak_scan().unreachable.contains(address)
                            ? b.live_blocks().find(address)
                            : std::find_if(b.live_blocks().begin(), b.live_blocks().end(),
                                           [&](const auto& other) {
                                               return other.second.size == block.size &&
                                                      other.second.stack_id == block.stack_id;
                                           });
        ASSERT_NE(it, b.live_blocks().end());
        EXPECT_EQ(it->second.size, block.size);
        EXPECT_EQ(it->second.stack_id, block.stack_id);
        EXPECT_LE(it->second.time_ns, block.time_ns);
        EXPECT_GT(it->second.time_ns + options.time_quantum_ns, block.time_ns);
    }
}

// Many events over several frames, with threads interleaving and addresses reused the way
// malloc reuses them (last freed, first handed out), and some not.
TEST(CompactDump, ManyFramesOfInterleavedThreads) {
    TempDir dir;
    DumpBuilder dump;
    std::mt19937_64 random(7);
    constexpr unsigned kThreads = 4;
    constexpr unsigned kPerThread = 60'000;
    for (unsigned t = 1; t <= kThreads; ++t)
        dump.add_chunk(t, T0).stack(T0, t, {0x400000u + t * 0x100, 0x401000});
    std::vector<ChunkBuilder>& chunks = dump.chunks;
    for (unsigned t = 0; t < kThreads; ++t) {
        std::vector<std::pair<uint64_t, uint64_t>> live; // address, size
        std::vector<uint64_t> freed;
        uint64_t next_address = 0x10000000ull * (t + 1);
        uint64_t time = T0 + 1 + t;
        for (unsigned i = 0; i < kPerThread; ++i) {
            time += 1 + random() % 900;
            if (!live.empty() && random() % 2 == 0) {
                const size_t k = random() % live.size();
                chunks[t].free(time, live[k].first);
                freed.push_back(live[k].first);
                live[k] = live.back();
                live.pop_back();
            } else {
                const uint64_t size = 1 + random() % 300;
                uint64_t address;
                if (!freed.empty() && random() % 3 != 0) {
                    address = freed.back();
                    freed.pop_back();
                } else {
                    address = next_address;
                    next_address += 16 + (size + 15) / 16 * 16;
                }
                chunks[t].alloc(time, address, size, t + 1,
                                static_cast<f::AllocFunction>(random() % 4));
                live.emplace_back(address, size);
            }
        }
    }
    // Chunks of any size are legal; keep them below the format's limit.
    for (const ChunkBuilder& chunk : chunks)
        ASSERT_LT(chunk.records().size(), f::kMaxChunkSize - 64);
    dump.write(dir / "raw.mtd");
    CompactOptions options = exact();
    options.event_frame_bytes = 64 * 1024;
    write_compacted_dump((dir / "raw.mtd").string(), (dir / "c.mtd").string(), options);
    const DumpReader raw((dir / "raw.mtd").string());
    const DumpReader compacted((dir / "c.mtd").string());
    const std::vector<EventTuple> events = events_of(raw);
    ASSERT_EQ(events.size(), kThreads * kPerThread);
    EXPECT_EQ(events_of(compacted), events);
    compact::Header header{};
    std::ifstream in(dir / "c.mtd", std::ios::binary);
    in.read(reinterpret_cast<char*>(&header), sizeof(header));
    EXPECT_GE(header.events.frames, 2u); // the decoder's state crossed a frame boundary
}

// What the event models predict (compact_events.h), each in turn, on two threads, over many
// small frames: blocks laid out end to end as malloc carves them, from two regions in turn;
// addresses handed back from deep in the list of recent frees; containers torn down in
// allocation order, in reverse and at random; a block freed by another thread; frees of
// unknown addresses and an allocation over a live block. Every event must come back exactly.
TEST(CompactDump, EveryEventModelRoundTrips) {
    TempDir dir;
    DumpBuilder dump;
    std::mt19937_64 random(11);
    dump.add_chunk(1, T0).stack(T0, 1, {0x401000});
    dump.add_chunk(2, T0).stack(T0, 2, {0x402000});
    uint64_t time = T0 + 1;
    const auto chunk = [](uint64_t size) {
        return std::max<uint64_t>((size + 8 + 15) & ~15ull, 32);
    };
    uint64_t tops[2] = {0x10000000, 0x20000000};        // two regions per thread, end to end
    std::vector<std::pair<uint64_t, uint64_t>> live[2]; // address, size, per thread
    const auto alloc = [&](unsigned t, uint64_t size, uint64_t address) {
        dump.chunks[t].alloc(++time, address, size, t + 1);
        live[t].emplace_back(address, size);
    };
    const auto carve = [&](unsigned t, unsigned region, uint64_t size) {
        const uint64_t address = tops[region] + t * 0x1000000;
        tops[region] += chunk(size);
        alloc(t, size, address);
    };
    const auto free_at = [&](unsigned t, unsigned by, size_t k) {
        dump.chunks[by].free(++time, live[t][k].first);
        live[t].erase(live[t].begin() + static_cast<long>(k));
    };
    for (unsigned round = 0; round < 40; ++round) {
        for (unsigned t = 0; t < 2; ++t) {
            // Carved from two regions in turn, with sizes of every kind.
            for (unsigned i = 0; i < 300; ++i)
                carve(t, i % 3 == 0 ? 1 : 0, 1 + random() % (i % 50 == 0 ? 70'000 : 300));
            // Torn down in order, in reverse, and at random.
            for (unsigned i = 0; i < 100; ++i)
                free_at(t, t, 0);
            for (unsigned i = 0; i < 100; ++i)
                free_at(t, t, live[t].size() - 1);
            while (live[t].size() > 20)
                free_at(t, t, random() % live[t].size());
            // 40 blocks of one size freed, then handed back in a shuffled order.
            std::vector<uint64_t> freed;
            for (unsigned i = 0; i < 40; ++i) {
                carve(t, 0, 48);
                freed.push_back(live[t].back().first);
                free_at(t, t, live[t].size() - 1);
            }
            std::shuffle(freed.begin(), freed.end(), random);
            for (const uint64_t address : freed)
                alloc(t, 40 + random() % 8, address);
            // Explicit addresses far away, a free of an unknown address, a block of the other
            // thread freed here, and an allocation over a live block.
            alloc(t, 24, 0x7f0000000000 + random() % 0x100000 * 16);
            dump.chunks[t].free(++time, 0xdead0000 + round * 16);
            if (!live[1 - t].empty()) free_at(1 - t, t, random() % live[1 - t].size());
            const uint64_t replaced = live[t].front().first;
            live[t].erase(live[t].begin());
            alloc(t, 8, replaced);
        }
    }
    dump.write(dir / "raw.mtd");
    CompactOptions options = exact();
    options.event_frame_bytes = 16 * 1024;
    write_compacted_dump((dir / "raw.mtd").string(), (dir / "c.mtd").string(), options);
    const DumpReader raw((dir / "raw.mtd").string());
    const DumpReader compacted((dir / "c.mtd").string());
    const std::vector<EventTuple> events = events_of(raw);
    ASSERT_GT(events.size(), 50'000u);
    EXPECT_EQ(events_of(compacted), events);
    compact::Header header{};
    std::ifstream in(dir / "c.mtd", std::ios::binary);
    in.read(reinterpret_cast<char*>(&header), sizeof(header));
    EXPECT_GE(header.events.frames, 4u);
    // The models name nearly every address: far fewer bytes than an address per event.
    EXPECT_LT(header.events.bytes, events.size() * 2);
}

// every_record_kind(), compacted with exact times by memtrace before version 2 of the compacted
// form (commit 4d2f756): dumps kept from then must still read.
const uint8_t kVersion1EveryRecordKind[] = {
    0x4d, 0x54, 0x5a, 0x44, 0x55, 0x4d, 0x50, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x4d, 0x54, 0x44, 0x55, 0x4d, 0x50, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
    0x04, 0x03, 0x02, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x40, 0x00, 0x00, 0x00,
    0x92, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x2a, 0x36, 0xfe, 0x9c, 0x97, 0x17, 0x00, 0xca, 0x9a, 0x3b, 0x00, 0x00, 0x00, 0x00,
    0x1b, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc3, 0x9d, 0xd0, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0c, 0x00, 0x00, 0x00, 0xfa, 0x00, 0x00, 0x00, 0x1b, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x33, 0xca, 0x9a, 0x3b, 0x00, 0x00, 0x00, 0x00,
    0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x5f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5f, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x24, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x90, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x57, 0x00, 0x00, 0x00, 0x4a, 0x00, 0x00, 0x00, 0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x4a, 0x51, 0x02,
    0x00, 0x0a, 0x06, 0x0e, 0x09, 0x07, 0x13, 0x02, 0x08, 0x08, 0x02, 0x0e, 0x09, 0x10, 0x09, 0x00,
    0x19, 0x04, 0x03, 0x01, 0x02, 0x01, 0x02, 0x01, 0x89, 0x94, 0xeb, 0xdc, 0x03, 0x01, 0x01, 0x00,
    0x01, 0x01, 0x05, 0x01, 0x02, 0x01, 0x01, 0x40, 0x80, 0x01, 0x80, 0x02, 0x3c, 0x64, 0x20, 0x03,
    0x01, 0x01, 0x02, 0x01, 0x02, 0x01, 0x80, 0x80, 0x20, 0x80, 0x80, 0x08, 0x80, 0x80, 0x08, 0x80,
    0x80, 0x18, 0x00, 0xa0, 0xab, 0x67, 0x9f, 0xab, 0x5f, 0x03, 0x03, 0xf8, 0x0d, 0xb6, 0xd0, 0x1c,
    0x01, 0x00, 0x00, 0x90, 0x03, 0x00, 0x00, 0x28, 0xb5, 0x2f, 0xfd, 0x64, 0x90, 0x02, 0x75, 0x08,
    0x00, 0x52, 0x4f, 0x38, 0x2e, 0x60, 0x77, 0x0e, 0x30, 0xb0, 0xc4, 0x06, 0x08, 0x02, 0xfc, 0x02,
    0x42, 0x50, 0x48, 0x51, 0xd2, 0x14, 0x1e, 0xb3, 0xbb, 0x19, 0xd5, 0xcf, 0x43, 0x27, 0xb5, 0xc5,
    0x82, 0x49, 0x7a, 0xd1, 0xe3, 0x14, 0xf5, 0x10, 0x30, 0xed, 0x91, 0x6e, 0xb5, 0x33, 0x1a, 0x42,
    0x64, 0x4a, 0x32, 0xb8, 0xeb, 0xcf, 0xc1, 0xff, 0x2e, 0xfc, 0x3b, 0x4e, 0x78, 0x62, 0xdd, 0x9d,
    0x3b, 0x30, 0x68, 0x51, 0x35, 0xb4, 0x9e, 0xa3, 0x7b, 0x8e, 0xc6, 0xc8, 0x86, 0xd3, 0xc9, 0x68,
    0x38, 0x86, 0x6e, 0xb1, 0x43, 0x4f, 0xd2, 0x91, 0xd6, 0x35, 0x75, 0x1e, 0x7e, 0xa0, 0xe3, 0x92,
    0xd5, 0x25, 0xab, 0x5c, 0x35, 0x7e, 0x78, 0x4a, 0xe1, 0xa1, 0x70, 0x18, 0x5a, 0x4c, 0x8a, 0x85,
    0x84, 0x90, 0x95, 0x95, 0x4d, 0xdd, 0x16, 0x3d, 0x8d, 0x20, 0x56, 0x55, 0x4f, 0x12, 0x45, 0x81,
    0x03, 0xf9, 0xf3, 0x3f, 0xe6, 0xdf, 0x67, 0x8f, 0xc1, 0x92, 0x89, 0xd4, 0x9e, 0xa8, 0x46, 0x8b,
    0xbe, 0xa2, 0x53, 0xcc, 0xf9, 0xf3, 0x5c, 0xdd, 0x08, 0x07, 0x6f, 0xcd, 0x70, 0x32, 0x77, 0x6f,
    0xfb, 0x04, 0x13, 0xbf, 0xe4, 0x54, 0xff, 0x80, 0x9c, 0xb3, 0x98, 0xfd, 0x6b, 0x9f, 0xdd, 0x33,
    0xe8, 0x98, 0xf7, 0x7f, 0x7d, 0xd7, 0x9d, 0x59, 0xd7, 0xf1, 0x49, 0x55, 0xf3, 0x5d, 0xd1, 0xd7,
    0x4d, 0x53, 0xe8, 0xca, 0xae, 0xe6, 0x41, 0x06, 0xf3, 0xd9, 0xa2, 0xf6, 0xdd, 0x1d, 0x3e, 0x35,
    0x70, 0x48, 0x4a, 0x5f, 0x50, 0x7a, 0x32, 0xd7, 0xf4, 0x63, 0xb6, 0xae, 0xc9, 0x24, 0x64, 0x1a,
    0xae, 0xa5, 0x02, 0x78, 0x3a, 0x11, 0x20, 0x90, 0x6a, 0x2a, 0x77, 0x88, 0xc0, 0x63, 0x03, 0x75,
    0xaa, 0x58, 0x79, 0x91, 0x38, 0xb6, 0xb3, 0x39, 0xb0, 0x54, 0xb0, 0xbf, 0x76, 0x30, 0xac, 0x70,
    0x29, 0xae, 0x82, 0x44, 0xf0, 0xe4, 0x86, 0x15, 0xae, 0x17, 0xf6, 0xc0, 0xd3, 0x70, 0xc6, 0xad,
    0xb3, 0x00, 0x32,
};

TEST(CompactDump, ReadsVersion1) {
    TempDir dir;
    every_record_kind().write(dir / "raw.mtd");
    write_file(dir / "v1.mtd", std::vector<uint8_t>(std::begin(kVersion1EveryRecordKind),
                                                    std::end(kVersion1EveryRecordKind)));
    const DumpReader raw((dir / "raw.mtd").string());
    const DumpReader compacted((dir / "v1.mtd").string());
    compact::Header header{};
    std::memcpy(&header, kVersion1EveryRecordKind, sizeof(header));
    ASSERT_EQ(header.version, 1u);
    expect_same_metadata(raw, compacted);
    const std::vector<EventTuple> events = events_of(raw);
    ASSERT_EQ(events.size(), 10u);
    EXPECT_EQ(events_of(compacted), events);
}

TEST(CompactDump, CutShortRawDumpStaysIncomplete) {
    TempDir dir;
    LogCapture logs;
    const DumpBuilder dump = every_record_kind();
    std::vector<uint8_t> bytes = dump.bytes();
    bytes.resize(dump.record_offset(1, 3) + 1); // inside thread 2's aligned alloc
    write_file(dir / "raw.mtd", bytes);
    write_compacted_dump((dir / "raw.mtd").string(), (dir / "c.mtd").string(), exact());
    const DumpReader raw((dir / "raw.mtd").string());
    const DumpReader compacted((dir / "c.mtd").string());
    EXPECT_TRUE(compacted.cut_short());
    EXPECT_FALSE(compacted.complete());
    expect_same_metadata(raw, compacted);
    EXPECT_EQ(events_of(compacted), events_of(raw));
}

TEST(CompactDump, InPlaceReplacesTheRawDump) {
    TempDir dir;
    const fs::path path = dir / "d.mtd";
    every_record_kind().write(path);
    const auto raw_size = fs::file_size(path);
    const CompactResult result = compact_dump_in_place(path.string(), exact());
    EXPECT_EQ(result.raw_bytes, raw_size);
    EXPECT_EQ(result.compacted_bytes, fs::file_size(path));
    EXPECT_TRUE(is_compacted_dump(path.string()));
    EXPECT_FALSE(fs::exists(dir / "d.mtd.compacting"));
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(CompactDump, FailureLeavesTheRawDumpAlone) {
    TempDir dir;
    // A damaged raw dump: an unknown record kind in the middle of a chunk.
    DumpBuilder dump;
    dump.add_chunk(1, T0).stack(T0, 1, {0x401000}).alloc(T0 + 1, 0x1000, 8, 1).raw({0x0f, 1});
    const fs::path path = dir / "d.mtd";
    dump.write(path);
    const std::vector<uint8_t> before = dump.bytes();
    EXPECT_THROW(compact_dump_in_place(path.string(), exact()), DumpError);
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> after((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    EXPECT_EQ(after, before);
    EXPECT_FALSE(fs::exists(dir / "d.mtd.compacting"));

    // Nowhere to write: the output directory does not exist.
    every_record_kind().write(path);
    EXPECT_THROW(write_compacted_dump(path.string(), (dir / "no" / "c.mtd").string(), exact()),
                 std::system_error);
    EXPECT_FALSE(is_compacted_dump(path.string()));
}

// The preload may write a snapshot's record after events that are later in time (it stamps the
// snapshot when it was asked for): coarsened event times must still not cross it.
TEST(CompactDump, EventsNeverCrossASnapshotWrittenLate) {
    TempDir dir;
    DumpBuilder dump;
    ChunkBuilder& chunk = dump.add_chunk(1, T0);
    chunk.stack(T0, 1, {0x401000}).alloc(T0 + 10, 0x1000, 100, 1).alloc(T0 + 500, 0x2000, 200, 1);
    // Snapshot at T0 + 100, after the record at T0 + 500: its time delta wraps around.
    std::vector<uint8_t> late{f::make_kind_byte(f::RecordKind::Snapshot)};
    std::vector<uint8_t> varint(f::kMaxVarintBytes);
    const uint8_t* varint_end = f::write_varint(varint.data(), uint64_t{0} - 400);
    late.insert(late.end(), varint.cbegin(), varint.cbegin() + (varint_end - varint.data()));
    late.push_back(static_cast<uint8_t>(f::SnapshotTrigger::Api));
    late.push_back(0); // no label
    chunk.raw(late);
    dump.write(dir / "raw.mtd");
    CompactOptions options;
    options.progress = false;
    write_compacted_dump((dir / "raw.mtd").string(), (dir / "c.mtd").string(), options);
    for (const char* name : {"raw.mtd", "c.mtd"}) {
        SCOPED_TRACE(name);
        const DumpReader reader((dir / name).string());
        ASSERT_EQ(reader.snapshots().size(), 1u);
        EXPECT_EQ(reader.snapshots()[0].time_ns, T0 + 100);
        std::vector<uint64_t> live;
        replay(reader, [&](size_t, const HeapModel& m) { live.push_back(m.live_bytes()); });
        EXPECT_EQ(live, std::vector<uint64_t>{100});
    }
}

} // namespace
} // namespace memtrace::test
