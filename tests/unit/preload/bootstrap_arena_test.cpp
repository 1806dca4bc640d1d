#include "bootstrap_arena.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>

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
    for (int i = 0; i < 100; ++i) EXPECT_EQ(static_cast<unsigned char*>(b)[i], 0);
    void* heap = std::malloc(8);
    EXPECT_FALSE(bootstrap_owns(heap));
    std::free(heap);
}

TEST(BootstrapArena, RefusesWhatDoesNotFit) {
    EXPECT_EQ(bootstrap_alloc(1 << 30), nullptr);
}

} // namespace
