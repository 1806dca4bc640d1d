// The logic behind the memory views, on inputs built by hand: mapping replay, sample pairing,
// the histogram's classes and the doctor's accounting and thresholds.
#include "memory/anonymous_mappings.h"
#include "memory/doctor.h"
#include "memory/memory_samples.h"
#include "memory/size_histogram.h"

#include <gtest/gtest.h>

namespace memtrace::memory {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

MemoryMapEvent map(uint64_t address, uint64_t length, uint32_t stack) {
    MemoryMapEvent e;
    e.op = format::MemoryMapOp::Map;
    e.address = address;
    e.length = length;
    e.stack_id = stack;
    return e;
}

MemoryMapEvent unmap(uint64_t address, uint64_t length) {
    MemoryMapEvent e;
    e.op = format::MemoryMapOp::Unmap;
    e.address = address;
    e.length = length;
    return e;
}

MemoryMapEvent remap(uint64_t old_address, uint64_t old_length, uint64_t new_address,
                     uint64_t new_length, uint32_t stack) {
    MemoryMapEvent e;
    e.op = format::MemoryMapOp::Remap;
    e.address = old_address;
    e.length = old_length;
    e.new_address = new_address;
    e.new_length = new_length;
    e.stack_id = stack;
    return e;
}

TEST(AnonymousMappings, UnmappingTheMiddleLeavesBothEnds) {
    AnonymousMappings m;
    m.apply(map(0x100000, 8 * kMiB, 7));
    m.apply(unmap(0x100000 + kMiB, 2 * kMiB));
    EXPECT_EQ(m.live_bytes(), 6 * kMiB);
    ASSERT_EQ(m.regions().size(), 2u);
    EXPECT_EQ(m.regions().begin()->second.end, 0x100000 + kMiB);
    EXPECT_EQ(std::next(m.regions().begin())->first, 0x100000 + 3 * kMiB);
    const auto sites = m.sites();
    ASSERT_EQ(sites.size(), 1u);
    EXPECT_EQ(sites[0].stack_id, 7u);
    EXPECT_EQ(sites[0].live_bytes, 6 * kMiB);
    EXPECT_EQ(sites[0].live_regions, 2u);
    EXPECT_EQ(sites[0].maps, 1u);
    EXPECT_EQ(sites[0].bytes_mapped, 8 * kMiB);
}

TEST(AnonymousMappings, LengthsAreRoundedToPages) {
    AnonymousMappings m;
    m.apply(map(0x10000, 100, 1));
    EXPECT_EQ(m.live_bytes(), 4096u);
    m.apply(unmap(0x10000, 1));
    EXPECT_EQ(m.live_bytes(), 0u);
    EXPECT_TRUE(m.regions().empty());
}

TEST(AnonymousMappings, UnmapSpanningSeveralRegionsAndGaps) {
    AnonymousMappings m;
    m.apply(map(0x10000, 0x2000, 1));
    m.apply(map(0x20000, 0x2000, 2));
    m.apply(map(0x30000, 0x2000, 3));
    m.apply(unmap(0x11000, 0x20000)); // from the middle of the first into the third's start
    EXPECT_EQ(m.live_bytes(), 0x1000u + 0x1000u);
    ASSERT_EQ(m.regions().size(), 2u);
    EXPECT_EQ(m.regions().at(0x10000).end, 0x11000u);
    EXPECT_EQ(m.regions().at(0x31000).end, 0x32000u);
    EXPECT_EQ(m.regions().at(0x31000).stack_id, 3u);
}

TEST(AnonymousMappings, FixedMapOverAnExistingRegionReplacesIt) {
    AnonymousMappings m;
    m.apply(map(0x10000, 0x4000, 1));
    m.apply(map(0x11000, 0x1000, 2));
    EXPECT_EQ(m.live_bytes(), 0x4000u);
    ASSERT_EQ(m.regions().size(), 3u);
    EXPECT_EQ(m.regions().at(0x11000).stack_id, 2u);
}

TEST(AnonymousMappings, RemapMovesTrackedRegionsAndIgnoresOthers) {
    AnonymousMappings m;
    m.apply(map(0x10000, 0x2000, 1));
    m.apply(remap(0x10000, 0x2000, 0x80000, 0x8000, 5));
    EXPECT_EQ(m.live_bytes(), 0x8000u);
    ASSERT_EQ(m.regions().size(), 1u);
    EXPECT_EQ(m.regions().at(0x80000).stack_id, 5u);
    // Remapping memory never seen mapped (a file mapping, glibc's own) changes nothing.
    m.apply(remap(0x500000, 0x1000, 0x600000, 0x2000, 6));
    EXPECT_EQ(m.live_bytes(), 0x8000u);
    // A remap without a stack keeps the region's.
    m.apply(remap(0x80000, 0x8000, 0x90000, 0x1000, format::kNoStack));
    EXPECT_EQ(m.regions().at(0x90000).stack_id, 5u);
    // Unmapping what nobody tracked is harmless.
    m.apply(unmap(0x700000, 0x1000));
    EXPECT_EQ(m.live_bytes(), 0x1000u);
}

TEST(AnonymousMappings, HugeLengthsDoNotWrap) {
    AnonymousMappings m;
    m.apply(map(UINT64_MAX - 0x1fff, 0x10000, 1));
    EXPECT_GT(m.live_bytes(), 0u);
    m.apply(unmap(0, UINT64_MAX));
    EXPECT_EQ(m.live_bytes(), 0u);
}

constexpr const char* kOneArena =
    "<malloc version=\"1\"><heap nr=\"0\"><sizes></sizes>"
    "<total type=\"fast\" count=\"0\" size=\"0\"/><total type=\"rest\" count=\"1\" size=\"1000\"/>"
    "<system type=\"current\" size=\"5000\"/></heap></malloc>";

TEST(MemorySamples, RecordsWrittenTogetherArePairedWhateverTheirOrder) {
    std::vector<ProcessMemorySample> process(2);
    process[0].time_ns = 100;
    process[0].memory.vm_rss = 1;
    process[1].time_ns = 205;
    process[1].memory.vm_rss = 2;
    std::vector<MallocInfoSample> malloc_info(2);
    malloc_info[0] = {101, kOneArena};
    malloc_info[1] = {200, "<malloc><heap"}; // written before the process figures this time
    std::vector<SizeClassSample> size_classes(3);
    size_classes[0].time_ns = 102;
    size_classes[1].time_ns = 201;
    size_classes[2].time_ns = 206;

    const auto samples = pair_samples(process, malloc_info, size_classes);
    ASSERT_EQ(samples.size(), 3u);
    EXPECT_EQ(samples[0].time_ns, 100u);
    ASSERT_TRUE(samples[0].process && samples[0].malloc_info);
    EXPECT_EQ(samples[0].process->vm_rss, 1u);
    EXPECT_EQ(samples[0].malloc_info->free_bytes(), 1000u);
    EXPECT_EQ(samples[0].size_classes, &size_classes[0]);

    EXPECT_EQ(samples[1].time_ns, 200u);
    ASSERT_TRUE(samples[1].process.has_value());
    EXPECT_EQ(samples[1].process->vm_rss, 2u);
    EXPECT_FALSE(samples[1].malloc_info.has_value());
    EXPECT_NE(samples[1].malloc_info_error.find("malformed XML"), std::string::npos);
    EXPECT_EQ(samples[1].size_classes, &size_classes[1]);

    // A second set of size-class totals starts a sample of its own.
    EXPECT_FALSE(samples[2].process.has_value());
    EXPECT_EQ(samples[2].size_classes, &size_classes[2]);
    EXPECT_EQ(last_accountable_sample(samples), &samples[1]);
}

TEST(SizeHistogram, ListsOnlyClassesWithSomethingInThem) {
    std::vector<format::SizeClassCounts> totals(format::kSizeClassCount);
    totals[0] = {3, 10, 72, 1, 24};
    totals[64] = {1, 600, 616, 0, 0};
    std::vector<ClassLive> live(format::kSizeClassCount);
    live[0] = {2, 7};
    live[1] = {1, 9}; // live without totals: a dump cut before the totals were written
    const SizeHistogram h = make_histogram(&totals, live);
    ASSERT_EQ(h.rows.size(), 3u);
    EXPECT_EQ(h.rows[0].min_size, 0u);
    EXPECT_EQ(h.rows[0].max_size, 8u);
    EXPECT_EQ(h.rows[0].waste_bytes(), 62u);
    EXPECT_EQ(h.rows[1].min_size, 9u);
    EXPECT_EQ(h.rows[1].max_size, 16u);
    EXPECT_EQ(h.rows[2].min_size, 513u);
    EXPECT_EQ(h.rows[2].max_size, 1024u);
    EXPECT_EQ(h.count(), 4u);
    EXPECT_EQ(h.live_count(), 3u);
    EXPECT_EQ(h.live_bytes(), 16u);
    EXPECT_FALSE(make_histogram(nullptr, live).has_totals);
}

// A process of 100 MiB RSS, 90 MiB of it anonymous, with one arena of 60 MiB holding 20 MiB
// free, 30 MiB live (all in one class with 25% waste) and 4 MiB of other overhead...
struct DoctorFixture : ::testing::Test {
    MemorySample sample;
    std::vector<format::SizeClassCounts> totals =
        std::vector<format::SizeClassCounts>(format::kSizeClassCount);
    DoctorInput input;

    void SetUp() override {
        sample.time_ns = 5;
        sample.process =
            format::ProcessMemory{100 * kMiB, 400 * kMiB, 120 * kMiB, 90 * kMiB, 10 * kMiB, 3};
        MallocInfo info;
        ArenaUsage arena;
        arena.number = 0;
        arena.system_bytes = 60 * kMiB;
        arena.rest_chunks = 1000;
        arena.rest_bytes = 20 * kMiB;
        arena.small_free_chunks = 999;
        arena.small_free_bytes = 15 * kMiB;
        info.arenas.push_back(arena);
        sample.malloc_info = info;
        totals[3] = {1000, 4000, 5000, 0, 0}; // usable/requested = 1.25
        input.sample = &sample;
        input.at_exit = true;
        input.live_heap_bytes = 32 * kMiB;
        input.live_heap_blocks = 1000;
        input.live_by_class.resize(format::kSizeClassCount);
        input.live_by_class[3] = {1000, 32 * kMiB};
        input.size_classes = &totals;
    }

    static const Finding* find(const Diagnosis& d, const std::string& kind) {
        for (const Finding& f : d.findings)
            if (f.kind == kind) return &f;
        return nullptr;
    }
};

TEST_F(DoctorFixture, AccountsForAnonymousRss) {
    const Diagnosis d = diagnose(input);
    ASSERT_TRUE(d.available);
    const Accounting& a = d.accounting;
    EXPECT_EQ(a.heap_in_use_bytes, 40 * kMiB);
    EXPECT_EQ(a.overhead_bytes, static_cast<int64_t>(8 * kMiB));
    EXPECT_EQ(a.internal_waste_bytes, 8 * kMiB); // 32 MiB live * 0.25
    EXPECT_EQ(a.other_overhead_bytes, 0);
    EXPECT_EQ(a.arena_free_bytes, 20 * kMiB);
    // live + waste + other + free = the arena's 60 MiB; 90 - 60 unexplained.
    EXPECT_EQ(a.unexplained_bytes, static_cast<int64_t>(30 * kMiB));

    const Finding* free = find(d, "free_retained");
    ASSERT_NE(free, nullptr);
    EXPECT_EQ(free->bytes, 20 * kMiB);
    EXPECT_NE(free->advice.find("fragmentation"), std::string::npos) << free->advice;
    const Finding* waste = find(d, "internal_waste");
    ASSERT_NE(waste, nullptr);
    EXPECT_NE(waste->message.find("class (24,32]"), std::string::npos) << waste->message;
    ASSERT_NE(find(d, "unexplained"), nullptr);
    EXPECT_EQ(find(d, "arenas"), nullptr); // one arena: nothing to say
    EXPECT_EQ(find(d, "pymalloc"), nullptr);
    EXPECT_EQ(find(d, "mmap"), nullptr);
    EXPECT_EQ(find(d, "sampled"), nullptr);
}

TEST_F(DoctorFixture, TrimAdviceWhenFreeMemoryIsInLargeChunks) {
    sample.malloc_info->arenas[0].small_free_bytes = 1 * kMiB;
    const Diagnosis d = diagnose(input);
    const Finding* free = find(d, "free_retained");
    ASSERT_NE(free, nullptr);
    EXPECT_NE(free->advice.find("malloc_trim(0)"), std::string::npos) << free->advice;
    EXPECT_NE(free->advice.find("19.0 MiB"), std::string::npos) << free->advice;
}

TEST_F(DoctorFixture, NoFindingForSmallFigures) {
    sample.malloc_info->arenas[0].rest_bytes = 900 * 1024; // under 1 MiB
    sample.malloc_info->arenas[0].small_free_bytes = 0;
    totals[3] = {1000, 4000, 4100, 0, 0}; // 2.5% waste
    const Diagnosis d = diagnose(input);
    EXPECT_EQ(find(d, "free_retained"), nullptr);
    EXPECT_EQ(find(d, "internal_waste"), nullptr);
}

TEST_F(DoctorFixture, ArenaAdviceOnlyWhenThreadArenasStrandFreeMemory) {
    ArenaUsage thread_arena;
    thread_arena.number = 1;
    thread_arena.system_bytes = 1 * kMiB;
    thread_arena.rest_chunks = 1;
    thread_arena.rest_bytes = 512 * 1024;
    thread_arena.subheaps = 1;
    sample.malloc_info->arenas.push_back(thread_arena);
    thread_arena.number = 2;
    sample.malloc_info->arenas.push_back(thread_arena);
    Diagnosis d = diagnose(input);
    const Finding* arenas = find(d, "arenas");
    ASSERT_NE(arenas, nullptr);
    EXPECT_EQ(arenas->bytes, 2 * kThreadHeapReserve);
    EXPECT_TRUE(arenas->advice.empty()) << arenas->advice; // 1 MiB free of 100 MiB RSS

    sample.malloc_info->arenas[1].rest_bytes = 15 * kMiB;
    sample.malloc_info->arenas[1].system_bytes = 16 * kMiB;
    d = diagnose(input);
    arenas = find(d, "arenas");
    ASSERT_NE(arenas, nullptr);
    EXPECT_NE(arenas->advice.find("MALLOC_ARENA_MAX"), std::string::npos);
}

TEST_F(DoctorFixture, MappingsAndPymallocAreReported) {
    MappingSite site;
    site.stack_id = 4;
    site.live_bytes = 8 * kMiB;
    site.live_regions = 1;
    input.mapping_sites.push_back(site);
    input.python.detected = true;
    input.python.arena_size = kMiB;
    input.python.live_bytes = 5 * kMiB;
    input.python.stack_ids = {9};
    const Diagnosis d = diagnose(input);
    const Finding* mmap = find(d, "mmap");
    ASSERT_NE(mmap, nullptr);
    EXPECT_EQ(mmap->bytes, 8 * kMiB);
    EXPECT_EQ(mmap->stacks, std::vector<uint32_t>{4});
    EXPECT_NE(mmap->advice.find("munmap"), std::string::npos);
    const Finding* py = find(d, "pymalloc");
    ASSERT_NE(py, nullptr);
    EXPECT_NE(py->advice.find("--python-malloc"), std::string::npos);
    EXPECT_EQ(d.accounting.unexplained_bytes, static_cast<int64_t>(17 * kMiB));
}

TEST_F(DoctorFixture, WithoutMallocInfoOnlyTheLiveHeapIsKnown) {
    sample.malloc_info.reset();
    sample.malloc_info_error = "malformed XML: no root element at byte 0";
    const Diagnosis d = diagnose(input);
    ASSERT_TRUE(d.available);
    EXPECT_FALSE(d.accounting.has_malloc_info);
    EXPECT_EQ(d.accounting.unexplained_bytes, static_cast<int64_t>(58 * kMiB));
    const Finding* missing = find(d, "malloc_info_missing");
    ASSERT_NE(missing, nullptr);
    EXPECT_NE(missing->message.find("no root element"), std::string::npos);
}

TEST_F(DoctorFixture, NothingToSayWithoutASample) {
    input.sample = nullptr;
    const Diagnosis d = diagnose(input);
    EXPECT_FALSE(d.available);
    EXPECT_FALSE(d.unavailable_reason.empty());
}

TEST_F(DoctorFixture, SampledDumpsSayTheirFiguresAreEstimates) {
    input.sample_bytes = 4096;
    const Diagnosis d = diagnose(input);
    ASSERT_NE(find(d, "sampled"), nullptr);
}

} // namespace
} // namespace memtrace::memory
