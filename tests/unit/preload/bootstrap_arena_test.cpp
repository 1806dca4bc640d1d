#include "bootstrap_arena.h"
#include "sampled_block.h"

#include <cstdint>
#include <cstdlib>
#include <gtest/gtest.h>

namespace {

using namespace memtrace::preload;

TEST(BootstrapArena, BlocksAreZeroedAlignedOwnedAndSized) {
    void* a = bootstrap_alloc(40);
    void* b = bootstrap_alloc(100, 64);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 16, 0u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 64, 0u);
    EXPECT_TRUE(bootstrap_owns(a));
    EXPECT_TRUE(bootstrap_owns(b));
    EXPECT_EQ(bootstrap_size(a), 40u);
    EXPECT_EQ(bootstrap_size(b), 100u);
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(static_cast<unsigned char*>(b)[i], 0);
    void* heap = std::malloc(8);
    EXPECT_FALSE(bootstrap_owns(heap));
    std::free(heap);
}

TEST(BootstrapArena, BlocksLookSampledSoThatTheFreeHookSendsThemToItsSlowPath) {
    // With sampling headers the free hook asks bootstrap_owns() only on its sampled path.
    void* a = bootstrap_alloc(24);
    void* b = bootstrap_alloc(5000, 4096);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    EXPECT_TRUE(is_sampled_block(a));
    EXPECT_TRUE(is_sampled_block(b));
    EXPECT_EQ(bootstrap_size(a), 24u); // the size word is before the magic one
    EXPECT_EQ(bootstrap_size(b), 5000u);
}

TEST(BootstrapArena, RefusesWhatDoesNotFit) {
    EXPECT_EQ(bootstrap_alloc(1 << 30), nullptr);
}

} // namespace
