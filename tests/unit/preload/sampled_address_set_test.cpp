#include "sampled_address_set.h"

#include <gtest/gtest.h>
#include <set>
#include <thread>
#include <vector>

namespace {

using memtrace::preload::SampledAddressSet;

// Addresses as malloc returns them: 16-byte aligned, never 0 or 1.
uint64_t block(uint64_t i) {
    return 0x7f0000000000ull + i * 16;
}

TEST(SampledAddressSet, FindsWhatWasInsertedAndForgetsWhatWasRemoved) {
    SampledAddressSet set;
    ASSERT_TRUE(set.init(12));
    for (uint64_t i = 0; i < 1000; ++i)
        ASSERT_TRUE(set.insert(block(i)));
    for (uint64_t i = 0; i < 1000; ++i)
        EXPECT_TRUE(set.contains(block(i))) << i;
    EXPECT_FALSE(set.contains(block(1000)));
    for (uint64_t i = 0; i < 1000; i += 2)
        EXPECT_TRUE(set.remove(block(i))) << i;
    for (uint64_t i = 0; i < 1000; ++i)
        EXPECT_EQ(set.contains(block(i)), i % 2 == 1) << i;
    // A second free of the same address, or the free of a block never sampled, finds nothing.
    EXPECT_FALSE(set.remove(block(0)));
    EXPECT_FALSE(set.remove(block(5000)));
    for (uint64_t i = 1; i < 1000; i += 2)
        EXPECT_TRUE(set.remove(block(i))) << i;
    for (uint64_t i = 0; i < 1000; ++i)
        EXPECT_FALSE(set.contains(block(i))) << i;
}

TEST(SampledAddressSet, RemovedSlotsAreReusedAndProbingGoesPastThem) {
    // 16 slots: every key collides with others, so chains run through tombstones.
    SampledAddressSet set;
    ASSERT_TRUE(set.init(4));
    for (int round = 0; round < 50; ++round) {
        std::vector<uint64_t> keys;
        for (uint64_t i = 0; i < 12; ++i)
            keys.push_back(block(round * 100 + i));
        for (uint64_t key : keys)
            ASSERT_TRUE(set.insert(key)) << "round " << round;
        for (size_t i = 0; i < keys.size(); i += 3)
            ASSERT_TRUE(set.remove(keys[i]));
        for (size_t i = 0; i < keys.size(); ++i)
            EXPECT_EQ(set.contains(keys[i]), i % 3 != 0);
        for (size_t i = 0; i < keys.size(); ++i) {
            if (i % 3 != 0) {
                ASSERT_TRUE(set.remove(keys[i]));
            }
        }
    }
}

TEST(SampledAddressSet, ReportsFullAndAcceptsAgainAfterARemoval) {
    SampledAddressSet set;
    ASSERT_TRUE(set.init(3)); // 8 slots, fewer than the probe limit: the whole table is seen
    for (uint64_t i = 0; i < 8; ++i)
        ASSERT_TRUE(set.insert(block(i)));
    EXPECT_FALSE(set.insert(block(8)));
    EXPECT_FALSE(set.contains(block(8)));
    // A refused insert leaves the filter as it was: freeing that block finds nothing.
    EXPECT_FALSE(set.remove(block(8)));
    ASSERT_TRUE(set.remove(block(3)));
    EXPECT_TRUE(set.insert(block(8)));
    EXPECT_TRUE(set.contains(block(8)));
    for (uint64_t i = 0; i <= 8; ++i)
        EXPECT_EQ(set.contains(block(i)), i != 3) << i;
}

TEST(SampledAddressSet, ClearEmptiesIt) {
    SampledAddressSet set;
    ASSERT_TRUE(set.init(10));
    for (uint64_t i = 0; i < 100; ++i)
        ASSERT_TRUE(set.insert(block(i)));
    set.clear();
    for (uint64_t i = 0; i < 100; ++i)
        EXPECT_FALSE(set.remove(block(i))) << i;
    ASSERT_TRUE(set.insert(block(7)));
    EXPECT_TRUE(set.remove(block(7)));
}

TEST(SampledAddressSet, UnsampledFreesCostOneFilterLookup) {
    // Not timing: checks the filter answers "absent" for addresses no key shares a bucket with,
    // which is what makes the common free cheap.
    SampledAddressSet set;
    ASSERT_TRUE(set.init(12));
    for (uint64_t i = 0; i < 10; ++i)
        ASSERT_TRUE(set.insert(block(i * 7919)));
    int absent = 0;
    for (uint64_t i = 100000; i < 110000; ++i)
        absent += set.remove(block(i)) ? 0 : 1;
    EXPECT_EQ(absent, 10000);
    for (uint64_t i = 0; i < 10; ++i)
        EXPECT_TRUE(set.remove(block(i * 7919)));
}

TEST(SampledAddressSet, TheFilterClearsABucketOnlyWithItsLastKey) {
    SampledAddressSet set;
    ASSERT_TRUE(set.init(12));
    // Two keys of one filter bucket: found by brute force (the filter hash is private).
    const uint64_t first = block(1);
    uint64_t second = 0;
    for (uint64_t i = 2; i < 1000000 && !second; ++i) {
        ASSERT_TRUE(set.insert(block(i)));
        const bool shared = set.may_contain(first);
        ASSERT_TRUE(set.remove(block(i)));
        if (shared) second = block(i);
    }
    ASSERT_NE(second, 0u);
    ASSERT_FALSE(set.may_contain(first));
    ASSERT_TRUE(set.insert(first));
    ASSERT_TRUE(set.insert(second));
    ASSERT_TRUE(set.remove(first));
    EXPECT_TRUE(set.may_contain(second)); // the bucket still holds a key
    EXPECT_TRUE(set.remove(second));
    EXPECT_FALSE(set.may_contain(second));
    EXPECT_FALSE(set.may_contain(first));
}

TEST(SampledAddressSet, BeforeInitTheFilterLetsEveryAddressThrough) {
    // The free hook asks only the filter: until sampling is set up (and always when tracing
    // fully) every free must go on to the general path.
    SampledAddressSet set;
    for (uint64_t i = 0; i < 1000; ++i)
        ASSERT_TRUE(set.may_contain(block(i))) << i;
    set.clear(); // a fork child of a fully traced process: still closed
    EXPECT_TRUE(set.may_contain(block(1)));
    ASSERT_TRUE(set.init(10));
    int let_through = 0;
    for (uint64_t i = 0; i < 1000; ++i)
        let_through += set.may_contain(block(i)) ? 1 : 0;
    EXPECT_EQ(let_through, 0);
}

TEST(SampledAddressSet, ASaturatedFilterLetsEveryAddressThroughUntilCleared) {
    SampledAddressSet set;
    ASSERT_TRUE(set.init(10));
    ASSERT_TRUE(set.insert(block(1)));
    set.saturate_filter();
    for (uint64_t i = 0; i < 1000; ++i)
        EXPECT_TRUE(set.may_contain(block(i))) << i;
    // Removing the last key of a bucket does not clear its bit any more; the set stays exact.
    EXPECT_TRUE(set.remove(block(1)));
    EXPECT_TRUE(set.may_contain(block(1)));
    EXPECT_FALSE(set.remove(block(1)));
    EXPECT_FALSE(set.remove(block(2)));
    set.clear();
    EXPECT_FALSE(set.may_contain(block(1)));
}

TEST(SampledAddressSet, ThreadsInsertingAndRemovingTheirOwnBlocksNeverLoseOne) {
    SampledAddressSet set;
    ASSERT_TRUE(set.init(14));
    constexpr int kThreads = 4;
    constexpr uint64_t kPerThread = 2000;
    std::vector<std::thread> threads;
    std::vector<int> failures(kThreads, 0);
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            const uint64_t base = uint64_t(t) * 1000000;
            for (int round = 0; round < 20; ++round) {
                for (uint64_t i = 0; i < kPerThread; ++i)
                    if (!set.insert(block(base + i))) ++failures[t];
                // Keep the odd ones, free the even ones, then the odd ones but the last round's.
                for (uint64_t i = 0; i < kPerThread; i += 2)
                    if (!set.remove(block(base + i))) ++failures[t];
                if (round == 19) break;
                for (uint64_t i = 1; i < kPerThread; i += 2)
                    if (!set.remove(block(base + i))) ++failures[t];
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    for (int t = 0; t < kThreads; ++t)
        EXPECT_EQ(failures[t], 0) << "thread " << t;
    for (int t = 0; t < kThreads; ++t) {
        const uint64_t base = uint64_t(t) * 1000000;
        for (uint64_t i = 0; i < kPerThread; ++i)
            ASSERT_EQ(set.contains(block(base + i)), i % 2 == 1) << t << " " << i;
    }
}

} // namespace
