#include "memtrace/dump_format.h"
#include "stack_table.h"

#include <atomic>
#include <gtest/gtest.h>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using memtrace::preload::StackTable;

// What emit() saw, per id; emit must run exactly once for each id a caller gets back.
std::mutex g_emitted_mutex;
std::map<uint32_t, std::vector<uint64_t>> g_emitted;

bool record_emit(uint32_t id, const uint64_t* frames, uint32_t depth, bool) {
    std::lock_guard lock(g_emitted_mutex);
    EXPECT_EQ(g_emitted.count(id), 0u) << "id " << id << " emitted twice";
    g_emitted[id] = std::vector<uint64_t>(frames, frames + depth);
    return true;
}

bool refuse_emit(uint32_t, const uint64_t*, uint32_t, bool) {
    return false;
}

class StackTableTest : public ::testing::Test {
protected:
    void SetUp() override {
        g_emitted.clear();
        ASSERT_TRUE(table.init(12));
    }
    StackTable table;
};

TEST_F(StackTableTest, SameStackSameIdDifferentStackDifferentId) {
    const uint64_t a[] = {0x1000, 0x2000, 0x3000};
    const uint64_t b[] = {0x1000, 0x2000, 0x3001};
    const auto first = table.intern(a, 3, false, record_emit);
    const auto again = table.intern(a, 3, false, record_emit);
    const auto other = table.intern(b, 3, false, record_emit);
    const auto shorter = table.intern(a, 2, false, record_emit);
    const auto truncated = table.intern(a, 3, true, record_emit);
    EXPECT_EQ(first.id, 1u);
    EXPECT_TRUE(first.inserted);
    EXPECT_EQ(again.id, first.id);
    EXPECT_FALSE(again.inserted);
    EXPECT_NE(other.id, first.id);
    EXPECT_NE(shorter.id, first.id);
    EXPECT_NE(truncated.id, first.id);
    EXPECT_EQ(table.size(), 4u);
    EXPECT_EQ(g_emitted.at(first.id), std::vector<uint64_t>(a, a + 3));
    EXPECT_EQ(g_emitted.at(other.id), std::vector<uint64_t>(b, b + 3));
}

TEST_F(StackTableTest, FullTableGivesNoStackInsteadOfLooping) {
    // 2^12 slots hold at most 3072 ids.
    uint32_t last = 0;
    for (uint64_t i = 0; i < 4000; ++i) {
        const uint64_t frames[] = {i + 1, 0x42};
        last = table.intern(frames, 2, false, record_emit).id;
    }
    EXPECT_EQ(last, memtrace::format::kNoStack);
    EXPECT_EQ(g_emitted.size(), 3072u);
}

TEST_F(StackTableTest, FailedEmitPublishesNothing) {
    const uint64_t a[] = {0xabc};
    EXPECT_EQ(table.intern(a, 1, false, refuse_emit).id, memtrace::format::kNoStack);
    const auto later = table.intern(a, 1, false, record_emit);
    EXPECT_NE(later.id, memtrace::format::kNoStack);
    EXPECT_EQ(g_emitted.size(), 1u);
}

TEST_F(StackTableTest, ClearForgetsEverything) {
    const uint64_t a[] = {0x10, 0x20};
    table.intern(a, 2, false, record_emit);
    table.clear();
    g_emitted.clear();
    const auto after = table.intern(a, 2, false, record_emit);
    EXPECT_EQ(after.id, 1u);
    EXPECT_TRUE(after.inserted);
}

TEST_F(StackTableTest, ThreadsInterningTheSameStacksAgreeOnIds) {
    constexpr int kThreads = 8;
    constexpr uint64_t kStacks = 1000;
    std::vector<std::vector<uint32_t>> ids(kThreads, std::vector<uint32_t>(kStacks));
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() < kThreads) {
            }
            for (uint64_t s = 0; s < kStacks; ++s) {
                const uint64_t frames[] = {0x400000 + s * 16, 0x500000, s % 7};
                ids[t][s] = table.intern(frames, 3, false, record_emit).id;
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    for (uint64_t s = 0; s < kStacks; ++s) {
        ASSERT_NE(ids[0][s], memtrace::format::kNoStack);
        for (int t = 1; t < kThreads; ++t)
            ASSERT_EQ(ids[t][s], ids[0][s]) << "stack " << s;
        const std::vector<uint64_t> expected = {0x400000 + s * 16, 0x500000, s % 7};
        EXPECT_EQ(g_emitted.at(ids[0][s]), expected);
    }
    // Racing inserters may define an id that loses the slot; every winner was defined.
    EXPECT_GE(g_emitted.size(), kStacks);
}

} // namespace
