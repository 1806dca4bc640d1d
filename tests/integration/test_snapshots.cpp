// Snapshots written by the preload: the C API, the snapshot signal, the sampler's interval, the
// exit snapshot, and the process figures that come with each. The dumps are read with the
// analyzer's DumpReader, so these tests check what the preload wrote, record by record.
#include "dump_reader.h"
#include "heap_model.h"
#include "integration_test.h"

#include <algorithm>
#include <map>
#include <regex>
#include <signal.h>
#include <string>
#include <vector>

namespace memtrace::integration {
namespace {

using format::SnapshotTrigger;

class Snapshots : public IntegrationTest {
protected:
    // `memtrace run -o <dump> -- program args...` with extra environment for the program.
    ProcessResult trace_with(const std::string& program_name, const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env,
                             const std::filesystem::path& dump) {
        std::vector<std::string> argv = {program(program_name).string()};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessSpec spec = memtrace_run_spec(dir(), {"-o", dump.string()}, argv);
        for (const auto& [name, value] : env)
            spec.env_overrides[name] = value;
        return run_process(spec);
    }
    ProcessResult trace_with(const std::string& program_name, const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env) {
        return trace_with(program_name, args, env, dump_of(program_name));
    }
};

std::vector<SnapshotMark> with_trigger(const DumpReader& reader, SnapshotTrigger trigger) {
    std::vector<SnapshotMark> marks;
    for (const SnapshotMark& mark : reader.snapshots())
        if (mark.trigger == trigger) marks.push_back(mark);
    return marks;
}

std::vector<std::string> labels(const std::vector<SnapshotMark>& marks) {
    std::vector<std::string> result;
    for (const SnapshotMark& mark : marks)
        result.push_back(mark.label);
    return result;
}

// Every snapshot comes with one ProcessMemory, MallocInfo and SizeClassTotals record stamped with
// the snapshot's own time.
void expect_figures_with_every_snapshot(const DumpReader& reader) {
    const auto& marks = reader.snapshots();
    ASSERT_EQ(reader.memory_samples().size(), marks.size());
    ASSERT_EQ(reader.malloc_info_samples().size(), marks.size());
    ASSERT_EQ(reader.size_class_samples().size(), marks.size());
    for (size_t i = 0; i < marks.size(); ++i) {
        EXPECT_EQ(reader.memory_samples()[i].time_ns, marks[i].time_ns) << i;
        EXPECT_EQ(reader.malloc_info_samples()[i].time_ns, marks[i].time_ns) << i;
        EXPECT_EQ(reader.size_class_samples()[i].time_ns, marks[i].time_ns) << i;
    }
}

void expect_plausible_memory(const format::ProcessMemory& m, uint64_t threads) {
    EXPECT_GT(m.vm_rss, 100u * 1024); // any process with libc mapped has more than that
    EXPECT_GE(m.vm_size, m.vm_rss);
    EXPECT_GE(m.vm_hwm, m.vm_rss);
    EXPECT_GT(m.rss_file, 0u);
    EXPECT_LE(m.rss_anon + m.rss_file, m.vm_rss); // VmRSS = RssAnon + RssFile + RssShmem
    EXPECT_EQ(m.threads, threads);
}

void expect_malloc_info_xml(const std::string& xml) {
    EXPECT_EQ(xml.rfind("<malloc version=\"1\">", 0), 0u) << xml.substr(0, 100);
    EXPECT_NE(xml.find("<heap nr=\"0\">"), std::string::npos);
    EXPECT_NE(xml.find("</malloc>"), std::string::npos);
}

TEST_F(Snapshots, ApiSnapshotsAppearInOrderWithTheirLabels) {
    ProcessResult run = trace_with("snapshot_api", {}, {{"MEMTRACE_INTERVAL", "0"}});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    EXPECT_EQ(run.out, "snapshot 0\nsnapshot 0\nsnapshot 0\nsnapshot 0\n");

    DumpReader reader(dump_of("snapshot_api").string());
    EXPECT_EQ(reader.header().snapshot_interval_ms, 0u);
    EXPECT_EQ(reader.header().snapshot_signal, static_cast<uint32_t>(SIGUSR2));
    // No interval, no signal: the four calls and the exit, nothing else.
    const auto& marks = reader.snapshots();
    ASSERT_EQ(marks.size(), 5u);
    EXPECT_EQ(labels(marks), (std::vector<std::string>{"first", "second", "", "third", "exit"}));
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(marks[i].trigger, SnapshotTrigger::Api) << i;
        EXPECT_EQ(marks[i].thread_index, 1u) << i; // written by the calling (main) thread
        if (i > 0) {
            EXPECT_GT(marks[i].time_ns, marks[i - 1].time_ns);
        }
    }
    EXPECT_EQ(marks[4].trigger, SnapshotTrigger::Exit);
    expect_figures_with_every_snapshot(reader);
    // The main thread alone: with one thread in the program and no signal, the sampler that
    // would wait for the signal is never started.
    for (const auto& sample : reader.memory_samples())
        expect_plausible_memory(sample.memory, 1);
    for (const auto& sample : reader.malloc_info_samples())
        expect_malloc_info_xml(sample.xml);

    // The snapshots sit exactly between the calling thread's events: the heap replayed up to
    // each holds what the program had allocated by then.
    std::vector<uint64_t> live(marks.size());
    replay(reader, [&](size_t i, const HeapModel& model) { live[i] = model.live_bytes(); });
    EXPECT_GE(live[0], 1000u);
    EXPECT_EQ(live[1] - live[0], 2u * 2000);
    EXPECT_EQ(live[2], live[1]); // malloc(3000) was freed again before it
    EXPECT_EQ(live[3], live[2]);

    // Size-class counters count every allocation up to the snapshot.
    const auto& classes = reader.size_class_samples();
    auto count_of = [&](size_t i, uint64_t size) {
        return classes[i].classes[format::size_class_index(size)].count;
    };
    EXPECT_EQ(count_of(1, 2000) - count_of(0, 2000), 2u);
    EXPECT_EQ(count_of(2, 3000) - count_of(1, 3000), 1u);
}

TEST_F(Snapshots, WithoutMemtraceTheApiDoesNothing) {
    ProcessResult run = run_process(native_run_spec(dir(), {program("snapshot_api").string()}));
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    EXPECT_EQ(run.out, "snapshot -1\nsnapshot -1\nsnapshot -1\nsnapshot -1\n");
    EXPECT_TRUE(dumps_in_dir().empty());
}

TEST_F(Snapshots, ApiFromCxx) {
    ProcessResult run = trace_with("snapshot_api_cxx", {}, {{"MEMTRACE_INTERVAL", "0"}});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    EXPECT_EQ(run.out, "snapshot 0\n");
    DumpReader reader(dump_of("snapshot_api_cxx").string());
    EXPECT_EQ(labels(with_trigger(reader, SnapshotTrigger::Api)),
              std::vector<std::string>{"from c++"});
}

TEST_F(Snapshots, SignalTakesASnapshot) {
    ProcessResult run = trace_with("snapshot_signal", {}, {{"MEMTRACE_INTERVAL", "0"}});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    EXPECT_EQ(run.out, "alive\n");
    DumpReader reader(dump_of("snapshot_signal").string());
    EXPECT_EQ(reader.header().snapshot_signal, static_cast<uint32_t>(SIGUSR2));
    const auto signal_marks = with_trigger(reader, SnapshotTrigger::Signal);
    ASSERT_EQ(labels(signal_marks), std::vector<std::string>{"SIGUSR2"});
    // Not in the handler: by the program's one thread, at its next allocation (memtrace adds no
    // thread to a program that has one).
    EXPECT_EQ(signal_marks[0].thread_index, 1u);
    EXPECT_EQ(reader.snapshots().size(), 2u); // and the exit snapshot
    expect_figures_with_every_snapshot(reader);
    EXPECT_EQ(reader.memory_samples().front().memory.threads, 1u);
    EXPECT_TRUE(reader.notes().empty());
}

TEST_F(Snapshots, SignalCanBeChosen) {
    ProcessResult run = trace_with("snapshot_signal", {std::to_string(SIGUSR1)},
                                   {{"MEMTRACE_SNAPSHOT_SIGNAL", "USR1"}});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    DumpReader reader(dump_of("snapshot_signal").string());
    EXPECT_EQ(reader.header().snapshot_signal, static_cast<uint32_t>(SIGUSR1));
    EXPECT_EQ(labels(with_trigger(reader, SnapshotTrigger::Signal)),
              std::vector<std::string>{"SIGUSR1"});
}

TEST_F(Snapshots, SignalOffLeavesTheDefaultAction) {
    ProcessResult run = trace_with("snapshot_signal", {}, {{"MEMTRACE_SNAPSHOT_SIGNAL", "off"}});
    ASSERT_TRUE(run.signaled()) << run.describe();
    EXPECT_EQ(run.term_signal(), SIGUSR2);
    DumpReader reader(dump_of("snapshot_signal").string());
    EXPECT_EQ(reader.header().snapshot_signal, 0u);
    EXPECT_TRUE(with_trigger(reader, SnapshotTrigger::Signal).empty());
}

TEST_F(Snapshots, IntervalSnapshots) {
    // The program lives a little over 1 s: ticks at 0.2, 0.4, ... 1.0 s.
    ProcessResult run = trace_with("snapshot_idle", {"1000"}, {{"MEMTRACE_INTERVAL", "0.2"}});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    DumpReader reader(dump_of("snapshot_idle").string());
    EXPECT_EQ(reader.header().snapshot_interval_ms, 200u);
    const auto marks = with_trigger(reader, SnapshotTrigger::Interval);
    // 4 or 5 on time; one tick fewer if a busy machine made the sampler miss one.
    EXPECT_GE(marks.size(), 3u);
    EXPECT_LE(marks.size(), 6u);
    for (size_t i = 0; i < marks.size(); ++i) {
        EXPECT_EQ(marks[i].label, "");
        EXPECT_EQ(marks[i].thread_index, 1u); // the one thread, from an allocation
        // On a 200 ms schedule: each one at least a tick after the process started, and at most
        // one per tick (a late tick is not made up for).
        EXPECT_GE(marks[i].time_ns - reader.header().start_monotonic_ns,
                  (i + 1) * 200'000'000u - 20'000'000u)
            << i;
    }
    expect_figures_with_every_snapshot(reader);
    for (const auto& sample : reader.memory_samples())
        expect_plausible_memory(sample.memory, 1);
    for (const auto& sample : reader.malloc_info_samples())
        expect_malloc_info_xml(sample.xml);
    // The exit snapshot is the last record of all.
    ASSERT_FALSE(reader.snapshots().empty());
    EXPECT_EQ(reader.snapshots().back().trigger, SnapshotTrigger::Exit);
    EXPECT_EQ(reader.snapshots().back().label, "exit");
}

TEST_F(Snapshots, NothingIsWrittenAfterTheExitSnapshot) {
    // A 10 ms interval makes it likely that exit() comes while the sampler is at work.
    ProcessResult run = trace_with("snapshot_idle", {"300"}, {{"MEMTRACE_INTERVAL", "0.01"}});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    DumpReader reader(dump_of("snapshot_idle").string());
    ASSERT_GE(with_trigger(reader, SnapshotTrigger::Interval).size(), 5u);
    const SnapshotMark& last = reader.snapshots().back();
    EXPECT_EQ(last.trigger, SnapshotTrigger::Exit);
    EXPECT_EQ(last.thread_index, 1u);
    EXPECT_EQ(reader.memory_samples().back().time_ns, last.time_ns);
    EXPECT_EQ(reader.malloc_info_samples().back().time_ns, last.time_ns);
    EXPECT_EQ(reader.size_class_samples().back().time_ns, last.time_ns);
    expect_figures_with_every_snapshot(reader);
}

TEST_F(Snapshots, NoIntervalNoSignalNoThread) {
    ProcessResult run = trace_with("snapshot_idle", {"300"},
                                   {{"MEMTRACE_INTERVAL", "0"}, {"MEMTRACE_SNAPSHOT_SIGNAL", "0"}});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    DumpReader reader(dump_of("snapshot_idle").string());
    EXPECT_EQ(reader.header().snapshot_interval_ms, 0u);
    EXPECT_EQ(reader.header().snapshot_signal, 0u);
    ASSERT_EQ(reader.snapshots().size(), 1u);
    EXPECT_EQ(reader.snapshots()[0].trigger, SnapshotTrigger::Exit);
    ASSERT_EQ(reader.memory_samples().size(), 1u);
    expect_plausible_memory(reader.memory_samples()[0].memory, 1);
}

TEST_F(Snapshots, ASingleThreadedProgramGetsNoThread) {
    // 300 ms against the default 1 s interval: no interval snapshot, and no thread.
    ProcessResult run = trace_with("snapshot_idle", {"300"}, {});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    DumpReader reader(dump_of("snapshot_idle").string());
    EXPECT_EQ(reader.header().snapshot_interval_ms, 1000u);
    ASSERT_EQ(reader.snapshots().size(), 1u);
    ASSERT_EQ(reader.memory_samples().size(), 1u);
    expect_plausible_memory(reader.memory_samples()[0].memory, 1);
}

TEST_F(Snapshots, AProgramThatOnlyFreesStillGetsItsIntervalSnapshots) {
    // Its one thread does the sampler's work from its frees too.
    ProcessResult run =
        trace_with("snapshot_idle", {"600", "frees"}, {{"MEMTRACE_INTERVAL", "0.1"}});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    DumpReader reader(dump_of("snapshot_idle").string());
    const auto marks = with_trigger(reader, SnapshotTrigger::Interval);
    EXPECT_GE(marks.size(), 3u);
    for (const auto& mark : marks)
        EXPECT_EQ(mark.thread_index, 1u);
    // The heap replayed at the interval snapshots shrinks: they fell in the freeing.
    std::vector<uint64_t> live;
    replay(reader, [&](size_t i, const HeapModel& model) {
        if (reader.snapshots()[i].trigger == SnapshotTrigger::Interval)
            live.push_back(model.live_bytes());
    });
    ASSERT_GE(live.size(), 3u);
    EXPECT_GT(live.front(), live.back());
}

TEST_F(Snapshots, TheSamplerStartsAsSoonAsASecondThreadAllocates) {
    // arena_threads' workers are joined before exit: the second thread left is memtrace's.
    ProcessResult run = trace_with("arena_threads", {}, {});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    DumpReader reader(dump_of("arena_threads").string());
    ASSERT_FALSE(reader.memory_samples().empty());
    EXPECT_EQ(reader.memory_samples().back().memory.threads, 2u);
}

TEST_F(Snapshots, SignalTakesASnapshotInSamplingModeToo) {
    ProcessResult run = trace_with("snapshot_signal", {},
                                   {{"MEMTRACE_INTERVAL", "0"}, {"MEMTRACE_SAMPLE_BYTES", "64K"}});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    EXPECT_EQ(run.out, "alive\n");
    DumpReader reader(dump_of("snapshot_signal").string());
    EXPECT_EQ(labels(with_trigger(reader, SnapshotTrigger::Signal)),
              std::vector<std::string>{"SIGUSR2"});
}

TEST_F(Snapshots, AppHandlerInstalledLaterKeepsWorking) {
    ProcessResult run = trace_with("own_sigusr2", {"install"}, {{"MEMTRACE_INTERVAL", "0.1"}});
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    EXPECT_EQ(run.out, "handled 3\n");
    DumpReader reader(dump_of("own_sigusr2").string());
    // memtrace noticed on its next tick and gave the signal up.
    EXPECT_EQ(reader.header().snapshot_signal, 0u);
    EXPECT_TRUE(with_trigger(reader, SnapshotTrigger::Signal).empty());
    ASSERT_EQ(reader.notes().size(), 1u);
    EXPECT_EQ(reader.notes()[0].code, format::NoteCode::SnapshotSignalTaken);
    EXPECT_NE(reader.notes()[0].text.find("installed its own SIGUSR2 handler"), std::string::npos)
        << reader.notes()[0].text;
}

TEST_F(Snapshots, SignalIgnoredAtStartIsLeftAlone) {
    const std::string dump_template = (dir() / "own.%p.mtd").string();
    ProcessResult run = run_process(memtrace_run_spec(dir(), {"-o", dump_template},
                                                      {program("own_sigusr2").string(), "ignore"}));
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    EXPECT_EQ(run.out, "ignored 1\n");
    // Two dumps for the one pid: before the exec (SIGUSR2 was memtrace's then) and after.
    const auto dumps = dumps_in_dir();
    ASSERT_EQ(dumps.size(), 2u);
    DumpReader first(dumps[0].string());
    DumpReader second(dumps[1].string());
    const bool first_is_before =
        first.header().end_reason == static_cast<uint32_t>(format::EndReason::Exec);
    const DumpReader& before = first_is_before ? first : second;
    const DumpReader& after = first_is_before ? second : first;
    EXPECT_EQ(before.header().end_reason, static_cast<uint32_t>(format::EndReason::Exec));
    EXPECT_EQ(after.header().end_reason, static_cast<uint32_t>(format::EndReason::Exit));
    EXPECT_EQ(before.header().snapshot_signal, static_cast<uint32_t>(SIGUSR2));
    EXPECT_TRUE(before.notes().empty());
    EXPECT_EQ(after.header().snapshot_signal, 0u);
    ASSERT_EQ(after.notes().size(), 1u);
    EXPECT_EQ(after.notes()[0].code, format::NoteCode::SnapshotSignalTaken);
    EXPECT_NE(after.notes()[0].text.find("already handled or ignored SIGUSR2"), std::string::npos)
        << after.notes()[0].text;
}

TEST_F(Snapshots, ForkChildStartsItsSamplerLateAndOnlyWhenItLives) {
    const std::string dump_template = (dir() / "idle.%p.mtd").string();
    ProcessSpec spec = memtrace_run_spec(dir(), {"-o", dump_template},
                                         {program("snapshot_idle").string(), "1000", "fork"});
    spec.env_overrides["MEMTRACE_INTERVAL"] = "0.2";
    ProcessResult run = run_process(spec);
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    std::smatch match;
    ASSERT_TRUE(std::regex_match(run.out, match, std::regex("child ([0-9]+)\nchild ([0-9]+)\n")))
        << run.out;
    DumpReader long_child((dir() / ("idle." + match[1].str() + ".mtd")).string());
    DumpReader quick_child((dir() / ("idle." + match[2].str() + ".mtd")).string());

    // The long child took its interval snapshots itself, from 0.2 s after the fork on.
    const auto marks = with_trigger(long_child, SnapshotTrigger::Interval);
    EXPECT_GE(marks.size(), 2u);
    EXPECT_LE(marks.size(), 5u);
    for (const auto& mark : marks)
        EXPECT_GE(mark.time_ns - long_child.header().start_monotonic_ns, 180'000'000u);
    ASSERT_FALSE(long_child.memory_samples().empty());
    EXPECT_EQ(long_child.memory_samples().back().memory.threads, 1u);

    // The child that exited at once never had a thread: its only snapshot is the exit one.
    ASSERT_EQ(quick_child.snapshots().size(), 1u);
    EXPECT_EQ(quick_child.snapshots()[0].trigger, SnapshotTrigger::Exit);
    ASSERT_EQ(quick_child.memory_samples().size(), 1u);
    EXPECT_EQ(quick_child.memory_samples()[0].memory.threads, 1u);
}

} // namespace
} // namespace memtrace::integration
