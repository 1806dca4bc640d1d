// DumpReader against dumps crafted record by record: what goes in must come out, in global
// time order, and a file cut short must give its whole records and one warning.
#include "dump_builder.h"
#include "dump_reader.h"
#include "log_capture.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <random>

namespace memtrace::test {
namespace {

namespace f = memtrace::format;
constexpr uint64_t T0 = DumpBuilder::kStartNs;

std::vector<HeapEvent> events_of(const DumpReader& reader) {
    std::vector<HeapEvent> events;
    reader.for_each_event([&](const HeapEvent& event) { events.push_back(event); });
    return events;
}

TEST(DumpReader, ReadsBackEveryRecordKind) {
    TempDir dir;
    DumpBuilder dump;
    dump.header.pid = 777;
    dump.header.ppid = 55;
    dump.header.exit_code = 3;
    dump.header.flags = f::kFlagForkChild;
    const std::string build_id("\x01\x02\xab\x00\xcd", 5);
    const std::string cmdline("prog\0--flag\0x y\0", 16);
    // Frames that go down, up and wrap around, to exercise the signed deltas.
    const std::vector<uint64_t> frames1 = {0x7f0000001234, 0x400100, 0x7f0000004000,
                                           0xfffffffffffffff0, 0x10};
    std::vector<uint64_t> frames2(f::kMaxStackDepth);
    for (size_t i = 0; i < frames2.size(); ++i)
        frames2[i] = 0x400000 + 0x10 * (i * 7 % 13);

    ChunkBuilder& chunk = dump.add_chunk(1, T0);
    chunk.process_info(T0 + 10, "/usr/bin/prog", cmdline)
        .module_load(T0 + 20, 1, 0x7f0000000000, 0x7f0000001000, 0x7f0000005000, build_id,
                     "/lib/libfoo.so")
        .module_load(T0 + 30, 2, 0, 0x400000, 0x401000, "", "/usr/bin/prog")
        .stack(T0 + 40, 1, frames1, false)
        .stack(T0 + 50, 2, frames2, true)
        .alloc(T0 + 60, 0x50000000, 100, 1, f::AllocFunction::Malloc)
        .alloc(T0 + 70, 0x40000000, 0, 2, f::AllocFunction::Calloc)
        .alloc(T0 + 70, 0x60000000, UINT64_MAX, 0, f::AllocFunction::Aligned)
        .free(T0 + 90, 0x50000000)
        .alloc(T0 + 100, 0x50000010, 400, 1, f::AllocFunction::Realloc)
        .module_unload(T0 + 110, 1);
    dump.write(dir / "all.mtd");

    const DumpReader reader((dir / "all.mtd").string());
    EXPECT_EQ(reader.header().pid, 777u);
    EXPECT_EQ(reader.header().ppid, 55u);
    EXPECT_EQ(reader.header().exit_code, 3);
    EXPECT_EQ(reader.header().flags, f::kFlagForkChild);
    EXPECT_FALSE(reader.cut_short());
    EXPECT_TRUE(reader.complete());
    EXPECT_EQ(reader.thread_count(), 1u);
    EXPECT_EQ(reader.event_count(), 5u);
    EXPECT_EQ(reader.last_record_time_ns(), T0 + 110);

    ASSERT_TRUE(reader.process().recorded);
    EXPECT_EQ(reader.process().exe_path, "/usr/bin/prog");
    EXPECT_EQ(reader.process().argv, (std::vector<std::string>{"prog", "--flag", "x y"}));

    ASSERT_EQ(reader.modules().size(), 2u);
    const ModuleInfo& foo = reader.modules()[0];
    EXPECT_EQ(foo.id, 1u);
    EXPECT_EQ(foo.path, "/lib/libfoo.so");
    EXPECT_EQ(foo.build_id, build_id);
    EXPECT_EQ(foo.load_bias, 0x7f0000000000u);
    EXPECT_EQ(foo.start, 0x7f0000001000u);
    EXPECT_EQ(foo.end, 0x7f0000005000u);
    EXPECT_EQ(foo.load_time_ns, T0 + 20);
    EXPECT_EQ(foo.unload_time_ns, T0 + 110);
    const ModuleInfo& prog = reader.modules()[1];
    EXPECT_EQ(prog.id, 2u);
    EXPECT_EQ(prog.path, "/usr/bin/prog");
    EXPECT_TRUE(prog.build_id.empty());
    EXPECT_EQ(prog.unload_time_ns, UINT64_MAX);

    ASSERT_EQ(reader.stack_count(), 2u);
    const StackTrace* stack1 = reader.find_stack(1);
    ASSERT_NE(stack1, nullptr);
    EXPECT_EQ(stack1->frames, frames1);
    EXPECT_FALSE(stack1->truncated);
    EXPECT_EQ(stack1->time_ns, T0 + 40);
    const StackTrace* stack2 = reader.find_stack(2);
    ASSERT_NE(stack2, nullptr);
    EXPECT_EQ(stack2->frames, frames2);
    EXPECT_TRUE(stack2->truncated);
    EXPECT_EQ(reader.find_stack(0), nullptr);
    EXPECT_EQ(reader.find_stack(3), nullptr);

    const std::vector<HeapEvent> events = events_of(reader);
    ASSERT_EQ(events.size(), 5u);
    struct Expected {
        HeapEvent::Type type;
        f::AllocFunction function;
        uint64_t time, address, size;
        uint32_t stack;
        size_t record;
    };
    const Expected expected[] = {
        {HeapEvent::Type::Alloc, f::AllocFunction::Malloc, T0 + 60, 0x50000000, 100, 1, 5},
        {HeapEvent::Type::Alloc, f::AllocFunction::Calloc, T0 + 70, 0x40000000, 0, 2, 6},
        {HeapEvent::Type::Alloc, f::AllocFunction::Aligned, T0 + 70, 0x60000000, UINT64_MAX, 0, 7},
        {HeapEvent::Type::Free, f::AllocFunction::Malloc, T0 + 90, 0x50000000, 0, 0, 8},
        {HeapEvent::Type::Alloc, f::AllocFunction::Realloc, T0 + 100, 0x50000010, 400, 1, 9},
    };
    for (size_t i = 0; i < events.size(); ++i) {
        SCOPED_TRACE("event " + std::to_string(i));
        EXPECT_EQ(events[i].type, expected[i].type);
        if (expected[i].type == HeapEvent::Type::Alloc) {
            EXPECT_EQ(events[i].function, expected[i].function);
            EXPECT_EQ(events[i].size, expected[i].size);
            EXPECT_EQ(events[i].stack_id, expected[i].stack);
        }
        EXPECT_EQ(events[i].time_ns, expected[i].time);
        EXPECT_EQ(events[i].address, expected[i].address);
        EXPECT_EQ(events[i].thread_index, 1u);
        EXPECT_EQ(events[i].offset, dump.record_offset(0, expected[i].record));
    }
}

// dlopen on one thread, dlclose on another whose chunk comes first in the file, then the same
// id loaded again: unloads must be matched to loads by time, not by file order.
TEST(DumpReader, MatchesModuleUnloadsToLoadsByTime) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(2, T0).module_unload(T0 + 20, 5).module_unload(T0 + 40, 9);
    dump.add_chunk(1, T0)
        .module_load(T0 + 10, 5, 0x1000, 0x1000, 0x2000, "", "/lib/first.so")
        .module_load(T0 + 30, 5, 0x3000, 0x3000, 0x4000, "", "/lib/second.so");
    dump.write(dir / "modules.mtd");
    const DumpReader reader((dir / "modules.mtd").string());
    ASSERT_EQ(reader.modules().size(), 2u);
    EXPECT_EQ(reader.modules()[0].path, "/lib/first.so");
    EXPECT_EQ(reader.modules()[0].load_time_ns, T0 + 10);
    EXPECT_EQ(reader.modules()[0].unload_time_ns, T0 + 20);
    EXPECT_EQ(reader.modules()[1].path, "/lib/second.so");
    EXPECT_EQ(reader.modules()[1].load_time_ns, T0 + 30);
    EXPECT_EQ(reader.modules()[1].unload_time_ns, UINT64_MAX); // id 9 was never loaded
}

TEST(DumpReader, CmdlineWithoutFinalNulKeepsItsLastArgument) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).process_info(T0, "/bin/x", std::string("x\0last", 6));
    dump.write(dir / "d.mtd");
    const DumpReader reader((dir / "d.mtd").string());
    EXPECT_EQ(reader.process().argv, (std::vector<std::string>{"x", "last"}));
}

// Thread 2's chunk comes first in the file but frees a block thread 1 allocated earlier: only
// the merge by time sees the alloc first.
TEST(DumpReader, MergesChunksOfAllThreadsByTime) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(2, T0 + 1500)
        .free(T0 + 2000, 0x1000)
        .alloc(T0 + 2500, 0x2000, 32, 0)
        .free(T0 + 4000, 0x3000);
    dump.add_chunk(1, T0)
        .alloc(T0 + 1000, 0x1000, 64, 0)
        .alloc(T0 + 3000, 0x3000, 16, 0)
        .alloc(T0 + 5000, 0x4000, 8, 0);
    dump.write(dir / "threads.mtd");

    const DumpReader reader((dir / "threads.mtd").string());
    EXPECT_EQ(reader.thread_count(), 2u);
    const std::vector<HeapEvent> events = events_of(reader);
    ASSERT_EQ(events.size(), 6u);
    const std::pair<size_t, size_t> order[] = {{1, 0}, {0, 0}, {0, 1}, {1, 1}, {0, 2}, {1, 2}};
    for (size_t i = 0; i < events.size(); ++i) {
        SCOPED_TRACE("event " + std::to_string(i));
        EXPECT_EQ(events[i].offset, dump.record_offset(order[i].first, order[i].second));
        EXPECT_EQ(events[i].thread_index, order[i].first == 0 ? 2u : 1u);
        if (i > 0) {
            EXPECT_LE(events[i - 1].time_ns, events[i].time_ns);
        }
    }
}

TEST(DumpReader, EventsAtTheSameTimeKeepFileOrder) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).alloc(T0 + 100, 0x1000, 1, 0).alloc(T0 + 200, 0x2000, 1, 0);
    dump.add_chunk(2, T0).free(T0 + 100, 0x1000).free(T0 + 200, 0x2000);
    dump.add_chunk(3, T0).alloc(T0 + 100, 0x1000, 2, 0);
    dump.write(dir / "ties.mtd");

    const std::vector<HeapEvent> events = events_of(DumpReader((dir / "ties.mtd").string()));
    ASSERT_EQ(events.size(), 5u);
    const std::pair<size_t, size_t> order[] = {{0, 0}, {1, 0}, {2, 0}, {0, 1}, {1, 1}};
    for (size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(events[i].offset, dump.record_offset(order[i].first, order[i].second))
            << "event " << i;
    }
}

TEST(DumpReader, AChunkFollowsTheOneBeforeItOfTheSameThread) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).alloc(T0 + 10, 0x1000, 1, 0).alloc(T0 + 20, 0x2000, 1, 0);
    dump.add_chunk(1, T0 + 20).free(T0 + 30, 0x1000).free(T0 + 40, 0x2000);
    dump.chunks[0].spare_capacity = 3; // a full chunk leaves a few unused bytes behind
    dump.add_chunk(0, T0 + 40).spare_capacity = 100; // the padding at the end of a segment
    dump.write(dir / "refill.mtd");
    const DumpReader reader((dir / "refill.mtd").string());
    EXPECT_EQ(reader.thread_count(), 1u);
    const std::vector<HeapEvent> events = events_of(reader);
    ASSERT_EQ(events.size(), 4u);
    EXPECT_EQ(events[2].address, 0x1000u);
    EXPECT_EQ(events[3].address, 0x2000u);
    EXPECT_EQ(events[3].time_ns, T0 + 40);
}

TEST(DumpReader, ManyInterleavedChunksMergeByTimeThenFileOrder) {
    // More chunks at once than the merge's heap holds in two levels, with many equal times:
    // the order must be (time, chunk in the file, record in the chunk), as a stable sort says.
    TempDir dir;
    DumpBuilder dump;
    std::mt19937_64 random(7);
    struct Expected {
        uint64_t time;
        size_t chunk;
        size_t record;
    };
    std::vector<Expected> expected;
    for (uint32_t thread = 1; thread <= 12; ++thread) {
        uint64_t time = T0 + random() % 50;
        for (int part = 0; part < 3; ++part) {
            const size_t chunk = dump.chunks.size();
            ChunkBuilder& builder = dump.add_chunk(thread, time);
            for (size_t record = 0; record < 40; ++record) {
                time += random() % 4; // often the same time as the record before
                builder.alloc(time, 0x1000 * (chunk * 64 + record + 1), 8, 0);
                expected.push_back({time, chunk, record});
            }
        }
    }
    dump.write(dir / "many.mtd");
    std::stable_sort(expected.begin(), expected.end(),
                     [](const Expected& a, const Expected& b) { return a.time < b.time; });
    std::stable_sort(expected.begin(), expected.end(), [](const Expected& a, const Expected& b) {
        return a.time != b.time ? a.time < b.time : a.chunk < b.chunk;
    });
    const std::vector<HeapEvent> events = events_of(DumpReader((dir / "many.mtd").string()));
    ASSERT_EQ(events.size(), expected.size());
    for (size_t i = 0; i < events.size(); ++i) {
        ASSERT_EQ(events[i].offset, dump.record_offset(expected[i].chunk, expected[i].record))
            << "event " << i;
    }
}

TEST(DumpReader, FirstPassOverManyChunksKeepsFileOrder) {
    // Enough chunks for the first pass to give the second half to a helper thread: what it
    // finds must be taken in file order, as a single pass would.
    TempDir dir;
    DumpBuilder dump;
    constexpr uint32_t kChunks = 40;
    for (uint32_t i = 0; i < kChunks; ++i) {
        const uint64_t t = T0 + 1000 * i;
        ChunkBuilder& chunk = dump.add_chunk(i % 4, t);
        chunk.stack(t, i + 1, {0x400000 + i})
            .alloc(t + 1, 0x10000 + 0x100 * i, i + 1, i + 1)
            .module_load(t + 2, i, 0, 0x7000000 + 0x1000 * i, 0x7000800 + 0x1000 * i, "",
                         "/lib/m" + std::to_string(i) + ".so")
            .free(t + 3, 0x10000 + 0x100 * i);
        if (i % 2 == 1) chunk.snapshot(t + 4, f::SnapshotTrigger::Api, "s" + std::to_string(i));
    }
    dump.add_chunk(9, T0 + 1000 * kChunks).note(T0 + 1000 * kChunks + 7, f::NoteCode::Info, "end");
    dump.write(dir / "many.mtd");

    const DumpReader reader((dir / "many.mtd").string());
    EXPECT_EQ(reader.event_count(), 2u * kChunks);
    EXPECT_EQ(reader.thread_count(), 4u);
    EXPECT_EQ(reader.stack_count(), kChunks);
    EXPECT_EQ(reader.last_record_time_ns(), T0 + 1000 * kChunks + 7);
    ASSERT_EQ(reader.modules().size(), kChunks);
    ASSERT_EQ(reader.snapshots().size(), kChunks / 2);
    for (uint32_t i = 0; i < kChunks; ++i) {
        SCOPED_TRACE("chunk " + std::to_string(i));
        EXPECT_EQ(reader.modules()[i].path, "/lib/m" + std::to_string(i) + ".so");
        const StackTrace* stack = reader.find_stack(i + 1);
        ASSERT_NE(stack, nullptr);
        EXPECT_EQ(stack->frames, std::vector<uint64_t>{0x400000 + i});
        EXPECT_EQ(stack->offset, dump.record_offset(i, 0));
        EXPECT_EQ(stack->time_ns, T0 + 1000 * i);
    }
    EXPECT_EQ(reader.snapshots().back().label, "s" + std::to_string(kChunks - 1));
    EXPECT_EQ(reader.snapshots().back().time_ns, T0 + 1000 * (kChunks - 1) + 4);
    ASSERT_EQ(reader.notes().size(), 1u);
    EXPECT_EQ(reader.notes()[0].time_ns, T0 + 1000 * kChunks + 7);
    const std::vector<HeapEvent> events = events_of(reader);
    ASSERT_EQ(events.size(), 2u * kChunks);
    EXPECT_EQ(events.back().offset, dump.record_offset(kChunks - 1, 3));
}

TEST(DumpReader, EmptyDumpHasNoEvents) {
    TempDir dir;
    DumpBuilder dump;
    dump.header.end_reason = static_cast<uint32_t>(f::EndReason::Unknown);
    dump.header.clean = 0;
    dump.header.end_monotonic_ns = 0;
    dump.write(dir / "empty.mtd");
    const DumpReader reader((dir / "empty.mtd").string());
    EXPECT_TRUE(events_of(reader).empty());
    EXPECT_FALSE(reader.process().recorded);
    EXPECT_FALSE(reader.complete());
    EXPECT_FALSE(reader.cut_short());
    EXPECT_EQ(reader.end_time_ns(), DumpBuilder::kStartNs);
}

TEST(DumpReader, CompleteNeedsACleanOrderlyEnd) {
    TempDir dir;
    struct Case {
        f::EndReason reason;
        uint32_t clean;
        bool complete;
    };
    const Case cases[] = {
        {f::EndReason::Exit, 1, true},     {f::EndReason::QuickExit, 1, true},
        {f::EndReason::Exec, 1, true},     {f::EndReason::Exit, 0, false},
        {f::EndReason::Signal, 0, false},  {f::EndReason::Killed, 0, false},
        {f::EndReason::Unknown, 0, false}, {f::EndReason::Signal, 1, false},
    };
    for (const Case& c : cases) {
        DumpBuilder dump;
        dump.header.end_reason = static_cast<uint32_t>(c.reason);
        dump.header.clean = c.clean;
        dump.write(dir / "end.mtd");
        EXPECT_EQ(DumpReader((dir / "end.mtd").string()).complete(), c.complete)
            << "end reason " << static_cast<int>(c.reason) << " clean " << c.clean;
    }
}

// A dump with three chunks; the last holds a stack and five allocations.
DumpBuilder three_chunk_dump() {
    DumpBuilder dump;
    dump.add_chunk(1, T0).stack(T0 + 1, 1, {0x401000}).alloc(T0 + 10, 0x1000, 10, 1);
    dump.add_chunk(2, T0).alloc(T0 + 20, 0x2000, 20, 1).alloc(T0 + 30, 0x3000, 30, 1);
    ChunkBuilder& last = dump.add_chunk(3, T0);
    for (uint64_t i = 0; i < 5; ++i)
        last.alloc(T0 + 40 + i, 0x10000 + 0x100 * i, 1000 + i, 1);
    return dump;
}

TEST(DumpReader, FileCutShortMidRecordKeepsWholeRecordsAndWarnsOnce) {
    TempDir dir;
    const DumpBuilder dump = three_chunk_dump();
    std::vector<uint8_t> bytes = dump.bytes();
    // Cut two bytes into the fourth alloc of the last chunk.
    bytes.resize(dump.record_offset(2, 3) + 2);
    write_file(dir / "cut.mtd", bytes);

    LogCapture log;
    const DumpReader reader((dir / "cut.mtd").string());
    EXPECT_TRUE(reader.cut_short());
    EXPECT_FALSE(reader.complete());
    const std::vector<HeapEvent> events = events_of(reader);
    ASSERT_EQ(events.size(), 3u + 3u);
    EXPECT_EQ(events.back().address, 0x10000u + 0x100 * 2);
    EXPECT_EQ(events.back().size, 1002u);
    EXPECT_EQ(log.warnings(), 1u) << log.text();
    EXPECT_NE(log.text().find("cut short"), std::string::npos) << log.text();
    EXPECT_NE(log.text().find("cut.mtd"), std::string::npos) << log.text();
}

TEST(DumpReader, FileCutInsideAChunkHeaderKeepsTheChunksBefore) {
    TempDir dir;
    const DumpBuilder dump = three_chunk_dump();
    std::vector<uint8_t> bytes = dump.bytes();
    bytes.resize(dump.chunk_offset(2) + 12);
    write_file(dir / "cut.mtd", bytes);

    LogCapture log;
    const DumpReader reader((dir / "cut.mtd").string());
    EXPECT_TRUE(reader.cut_short());
    EXPECT_EQ(events_of(reader).size(), 3u);
    EXPECT_EQ(log.warnings(), 1u) << log.text();
}

TEST(DumpReader, FileCutAtARecordBoundaryIsStillCutShort) {
    TempDir dir;
    const DumpBuilder dump = three_chunk_dump();
    std::vector<uint8_t> bytes = dump.bytes();
    bytes.resize(dump.record_offset(2, 2));
    write_file(dir / "cut.mtd", bytes);

    LogCapture log;
    const DumpReader reader((dir / "cut.mtd").string());
    EXPECT_TRUE(reader.cut_short());
    EXPECT_FALSE(reader.complete());
    EXPECT_EQ(events_of(reader).size(), 5u);
    EXPECT_EQ(log.warnings(), 1u) << log.text();
}

TEST(DumpReader, StackLostWithTheCutIsNotAnError) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).alloc(T0 + 10, 0x1000, 10, 7);
    dump.add_chunk(2, T0).alloc(T0 + 1, 0x2000, 1, 0).stack(T0 + 5, 7, {0x401000});
    std::vector<uint8_t> bytes = dump.bytes();
    bytes.resize(dump.record_offset(1, 1) + 1);
    write_file(dir / "cut.mtd", bytes);

    LogCapture log;
    const DumpReader reader((dir / "cut.mtd").string());
    EXPECT_EQ(reader.find_stack(7), nullptr);
    EXPECT_EQ(events_of(reader).size(), 2u);
    EXPECT_EQ(log.warnings(), 1u) << log.text();
}

// Runs the whole reader, both passes, and returns the DumpError message ("" if none).
std::string read_error(const std::filesystem::path& path) {
    try {
        const DumpReader reader(path.string());
        reader.for_each_event([](const HeapEvent&) {});
    } catch (const DumpError& error) {
        return error.what();
    }
    return "";
}

TEST(DumpReaderErrors, DuplicateStackIdNamesBothOffsets) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).stack(T0, 3, {0x1});
    dump.add_chunk(2, T0).alloc(T0, 0x10, 1, 0).stack(T0 + 1, 3, {0x2});
    dump.write(dir / "dup.mtd");
    const std::string error = read_error(dir / "dup.mtd");
    EXPECT_NE(error.find("stack id 3 is defined twice"), std::string::npos) << error;
    EXPECT_NE(error.find("at byte " + std::to_string(dump.record_offset(1, 1)) + ":"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("first at byte " + std::to_string(dump.record_offset(0, 0))),
              std::string::npos)
        << error;
}

TEST(DumpReaderErrors, RecordPastCommittedBytes) {
    TempDir dir;
    DumpBuilder dump;
    ChunkBuilder& chunk = dump.add_chunk(1, T0);
    chunk.alloc(T0, 0x1000, 1, 0).alloc(T0, 0x123456789, 1000000, 0);
    chunk.committed = static_cast<uint32_t>(chunk.records().size() - 2);
    dump.write(dir / "past.mtd");
    const std::string error = read_error(dir / "past.mtd");
    EXPECT_NE(error.find("at byte " + std::to_string(dump.record_offset(0, 1)) + ":"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("runs past its chunk's committed bytes"), std::string::npos) << error;
}

TEST(DumpReaderErrors, AllocWithUndefinedStack) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).stack(T0, 1, {0x1}).alloc(T0 + 1, 0x10, 1, 1).alloc(T0 + 2, 0x20, 1, 2);
    dump.write(dir / "undefined.mtd");
    const std::string error = read_error(dir / "undefined.mtd");
    EXPECT_NE(error.find("at byte " + std::to_string(dump.record_offset(0, 2)) + ":"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("stack id 2"), std::string::npos) << error;
}

TEST(DumpReaderErrors, StackIdZeroCannotBeDefined) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).stack(T0, 0, {0x1});
    dump.write(dir / "zero.mtd");
    EXPECT_NE(read_error(dir / "zero.mtd").find("stack id 0"), std::string::npos);
}

TEST(DumpReaderErrors, ChunkOverlappingDataEnd) {
    TempDir dir;
    DumpBuilder dump;
    dump.add_chunk(1, T0).alloc(T0, 0x10, 1, 0);
    dump.chunks[0].capacity = 4096; // the file and data_end stop well before
    dump.write(dir / "overlap.mtd");
    const std::string error = read_error(dir / "overlap.mtd");
    EXPECT_NE(error.find("at byte 4096: bad chunk header"), std::string::npos) << error;
    EXPECT_NE(error.find("data_end"), std::string::npos) << error;
}

TEST(DumpReaderErrors, FirstErrorInFileOrderAcrossManyChunks) {
    // 40 chunks: the first pass reads the second half on a helper thread. A stack defined in
    // the first half and again in the second is named with both offsets; with a bad record in
    // each half as well, the one earlier in the file is reported.
    TempDir dir;
    DumpBuilder dump;
    for (uint32_t i = 0; i < 40; ++i) {
        ChunkBuilder& chunk = dump.add_chunk(1, T0 + 10 * i);
        chunk.alloc(T0 + 10 * i, 0x1000 + 0x10 * i, 8, 0);
        if (i == 3 || i == 30) chunk.stack(T0 + 10 * i + 1, 5, {0x1});
    }
    dump.write(dir / "dup.mtd");
    std::string error = read_error(dir / "dup.mtd");
    EXPECT_NE(error.find("stack id 5 is defined twice"), std::string::npos) << error;
    EXPECT_NE(error.find("at byte " + std::to_string(dump.record_offset(30, 1)) + ":"),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("first at byte " + std::to_string(dump.record_offset(3, 1))),
              std::string::npos)
        << error;

    dump.chunks[30].raw({0x0f}); // an unknown record kind after the second definition
    dump.write(dir / "later.mtd");
    error = read_error(dir / "later.mtd");
    EXPECT_NE(error.find("stack id 5 is defined twice"), std::string::npos) << error;

    dump.chunks[30] = ChunkBuilder(1, T0 + 300);
    dump.chunks[30].alloc(T0 + 300, 0x5000, 8, 0).raw({0x0f});
    dump.chunks[5].raw({0x0e});
    dump.write(dir / "two.mtd");
    error = read_error(dir / "two.mtd");
    EXPECT_NE(error.find("unknown record kind 0x0e"), std::string::npos) << error;
    EXPECT_NE(error.find("at byte " + std::to_string(dump.record_offset(5, 1)) + ":"),
              std::string::npos)
        << error;
}

TEST(DumpReaderErrors, MissingFile) {
    TempDir dir;
    const std::string error = read_error(dir / "absent.mtd");
    EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
    EXPECT_NE(error.find("absent.mtd"), std::string::npos) << error;
}

} // namespace
} // namespace memtrace::test
