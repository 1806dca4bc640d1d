#include "live_map.h"

#include <gtest/gtest.h>
#include <memory>
#include <utility>
#include <vector>

namespace memtrace::preload {
namespace {

using Blocks = std::vector<std::pair<uint64_t, uint64_t>>;

// Addresses are only keys: the map never touches the memory they name.
constexpr uint64_t kRegion = uint64_t{1} << LiveMap::kRegionShift;

Blocks blocks_of(const LiveMap& map) {
    std::vector<uint32_t> regions(LiveMap::kMaxLeaves);
    Blocks out;
    map.for_each(regions.data(),
                 [&](uint64_t address, uint64_t size) { out.emplace_back(address, size); });
    return out;
}

class LiveMapTest : public testing::Test {
protected:
    void SetUp() override {
        map->enable();
    }
    std::unique_ptr<LiveMap> map = std::make_unique<LiveMap>();
};

TEST(LiveMap, OffUnlessEnabled) {
    auto map = std::make_unique<LiveMap>();
    map->add(0x5555'0000'0000, 24);
    EXPECT_EQ(map->take(0x5555'0000'0000), 0u);
    EXPECT_TRUE(blocks_of(*map).empty());
}

TEST_F(LiveMapTest, ListsBlocksInAddressOrderWithTheirSizes) {
    const uint64_t base = 0x5555'0000'0000;
    map->add(base + 0x100, 24);
    map->add(base + 0x20, 0);
    map->add(base + 0x400, LiveMap::kMaxSmall);     // the largest size held in the byte
    map->add(base + 0x200, LiveMap::kMaxSmall + 1); // the smallest held after it
    map->add(base + 0x10000, 1 << 20);
    EXPECT_TRUE(map->complete());
    EXPECT_EQ(blocks_of(*map), (Blocks{{base + 0x20, 0},
                                       {base + 0x100, 24},
                                       {base + 0x200, LiveMap::kMaxSmall + 1},
                                       {base + 0x400, LiveMap::kMaxSmall},
                                       {base + 0x10000, 1 << 20}}));
}

TEST_F(LiveMapTest, TakeRemovesTheBlockAndReturnsItsSizePlusOne) {
    const uint64_t base = 0x7f00'0000'0000;
    map->add(base, 100);
    map->add(base + 0x1000, 5000);
    EXPECT_EQ(map->take(base), 101u);
    EXPECT_EQ(map->take(base), 0u); // already gone
    EXPECT_EQ(map->take(base + 0x1000), 5001u);
    EXPECT_EQ(map->take(base + 0x2000), 0u); // never there
    EXPECT_TRUE(blocks_of(*map).empty());
    // A failed realloc puts the block back as it was.
    map->add(base + 0x1000, 5000);
    const uint64_t entry = map->take(base + 0x1000);
    map->add(base + 0x1000, entry - 1);
    EXPECT_EQ(blocks_of(*map), (Blocks{{base + 0x1000, 5000}}));
}

TEST_F(LiveMapTest, ALargeBlocksSizeBytesAreNotBlocks) {
    const uint64_t base = 0x6000'0000'0000;
    // Every byte of the size is nonzero, and would read as a block if the walk looked there.
    const uint64_t size = 0x0102'0304'0506'07ff & ((uint64_t{1} << 40) - 1);
    map->add(base, size);
    EXPECT_EQ(blocks_of(*map), (Blocks{{base, size}}));
    map->take(base);
    map->add(base + 0x20, 8); // inside the old size bytes
    EXPECT_EQ(blocks_of(*map), (Blocks{{base + 0x20, 8}}));
}

TEST_F(LiveMapTest, ABlockStraddlingTwoRegionsKeepsItsSize) {
    const uint64_t end = 0x3000'0000'0000 + kRegion; // the start of a region
    for (uint64_t back = 16; back <= 160; back += 16) {
        map->add(end - back, 4096);
        EXPECT_EQ(blocks_of(*map), (Blocks{{end - back, 4096}})) << back;
        EXPECT_EQ(map->take(end - back), 4097u) << back;
        EXPECT_TRUE(blocks_of(*map).empty()) << back;
    }
    EXPECT_TRUE(map->complete());
}

TEST_F(LiveMapTest, TheWalkSkipsWhatALiveBlockCovers) {
    const uint64_t base = 0x4000'0000'0000;
    // A block whose free was never seen (memtrace was busy) is covered by a newer, larger one:
    // its stale byte must not show as a second block inside it.
    map->add(base + 0x100, 16);
    map->add(base, 1024);
    map->add(base + 0x400, 32);
    EXPECT_EQ(blocks_of(*map), (Blocks{{base, 1024}, {base + 0x400, 32}}));
}

TEST_F(LiveMapTest, RegionsAreWalkedInAddressOrderWhateverTheOrderTheyCameIn) {
    map->add(9 * kRegion + 0x30, 7);
    map->add(2 * kRegion + 0x10, 3);
    map->add(5 * kRegion, 1 << 16);
    map->add(0x10, 1); // region 0: a non-PIE program's heap is low
    EXPECT_EQ(
        blocks_of(*map),
        (Blocks{
            {0x10, 1}, {2 * kRegion + 0x10, 3}, {5 * kRegion, 1 << 16}, {9 * kRegion + 0x30, 7}}));
}

TEST_F(LiveMapTest, AMisalignedBlockMakesTheMapIncomplete) {
    map->add(0x5000'0000'0000, 16);
    EXPECT_TRUE(map->complete());
    map->add(0x5000'0000'0108, 16);
    EXPECT_FALSE(map->complete());
}

TEST_F(LiveMapTest, MoreRegionsThanLeavesMakeItIncomplete) {
    for (uint64_t region = 0; region < LiveMap::kMaxLeaves; ++region)
        map->add(region * kRegion + 0x10, 8);
    EXPECT_TRUE(map->complete());
    map->add(LiveMap::kMaxLeaves * kRegion + 0x10, 8);
    EXPECT_FALSE(map->complete());
    map->add((LiveMap::kMaxLeaves + 1) * kRegion + 0x10, 8); // no leaf tried any more
    EXPECT_FALSE(map->complete());
}

TEST_F(LiveMapTest, AnAddressBeyondTheMapMakesItIncomplete) {
    map->add(uint64_t{1} << LiveMap::kAddressBits, 16);
    EXPECT_FALSE(map->complete());
    EXPECT_EQ(map->take(uint64_t{1} << LiveMap::kAddressBits), 0u);
}

} // namespace
} // namespace memtrace::preload
