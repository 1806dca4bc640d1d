#include "live_map.h"

#include <gtest/gtest.h>
#include <memory>
#include <string>
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

// Every test runs with 16-byte granules (glibc) and with 8-byte ones (another allocator).
class LiveMapTest : public testing::TestWithParam<unsigned> {
protected:
    void SetUp() override {
        map->enable(GetParam());
    }
    std::unique_ptr<LiveMap> map = std::make_unique<LiveMap>();
};

TEST(LiveMap, OffUnlessEnabled) {
    auto map = std::make_unique<LiveMap>();
    map->add(0x5555'0000'0000, 24);
    EXPECT_EQ(map->take(0x5555'0000'0000), 0u);
    EXPECT_TRUE(blocks_of(*map).empty());
}

TEST_P(LiveMapTest, ListsBlocksInAddressOrderWithTheirSizes) {
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

TEST_P(LiveMapTest, TakeRemovesTheBlockAndReturnsItsSizePlusOne) {
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

TEST_P(LiveMapTest, ALargeBlocksSizeBytesAreNotBlocks) {
    const uint64_t base = 0x6000'0000'0000;
    // Every byte of the size is nonzero, and would read as a block if the walk looked there.
    const uint64_t size = 0x0102'0304'0506'07ff & ((uint64_t{1} << 40) - 1);
    map->add(base, size);
    EXPECT_EQ(blocks_of(*map), (Blocks{{base, size}}));
    map->take(base);
    map->add(base + 0x20, 8); // inside the old size bytes
    EXPECT_EQ(blocks_of(*map), (Blocks{{base + 0x20, 8}}));
}

TEST_P(LiveMapTest, ABlockStraddlingTwoRegionsKeepsItsSize) {
    const uint64_t end = 0x3000'0000'0000 + kRegion; // the start of a region
    for (uint64_t back = 16; back <= 160; back += 16) {
        map->add(end - back, 4096);
        EXPECT_EQ(blocks_of(*map), (Blocks{{end - back, 4096}})) << back;
        EXPECT_EQ(map->take(end - back), 4097u) << back;
        EXPECT_TRUE(blocks_of(*map).empty()) << back;
    }
    EXPECT_TRUE(map->complete());
}

TEST_P(LiveMapTest, TheWalkSkipsWhatALiveBlockCovers) {
    const uint64_t base = 0x4000'0000'0000;
    // A block whose free was never seen (memtrace was busy) is covered by a newer, larger one:
    // its stale byte must not show as a second block inside it.
    map->add(base + 0x100, 16);
    map->add(base, 1024);
    map->add(base + 0x400, 32);
    EXPECT_EQ(blocks_of(*map), (Blocks{{base, 1024}, {base + 0x400, 32}}));
}

TEST_P(LiveMapTest, RegionsAreWalkedInAddressOrderWhateverTheOrderTheyCameIn) {
    map->add(9 * kRegion + 0x30, 7);
    map->add(2 * kRegion + 0x10, 3);
    map->add(5 * kRegion, 1 << 16);
    map->add(0x10, 1); // region 0: a non-PIE program's heap is low
    EXPECT_EQ(
        blocks_of(*map),
        (Blocks{
            {0x10, 1}, {2 * kRegion + 0x10, 3}, {5 * kRegion, 1 << 16}, {9 * kRegion + 0x30, 7}}));
}

TEST_P(LiveMapTest, AMisalignedBlockMakesTheMapIncomplete) {
    map->add(0x5000'0000'0000, 16);
    EXPECT_TRUE(map->complete());
    map->add(0x5000'0000'0108 + (GetParam() == 4 ? 0 : 4), 16);
    EXPECT_FALSE(map->complete());
}

TEST(LiveMap, EightByteGranulesTellNeighboursApart) {
    auto map = std::make_unique<LiveMap>();
    map->enable(3);
    const uint64_t base = 0x7f00'1000'0000;
    map->add(base, 8);
    map->add(base + 8, 8);
    map->add(base + 16, 300);
    map->add(base + 0x200, 1);
    EXPECT_TRUE(map->complete());
    EXPECT_EQ(blocks_of(*map),
              (Blocks{{base, 8}, {base + 8, 8}, {base + 16, 300}, {base + 0x200, 1}}));
    EXPECT_EQ(map->take(base + 8), 9u);
    EXPECT_EQ(map->take(base + 16), 301u);
    EXPECT_EQ(blocks_of(*map), (Blocks{{base, 8}, {base + 0x200, 1}}));
}

TEST_P(LiveMapTest, MoreRegionsThanLeavesMakeItIncomplete) {
    for (uint64_t region = 0; region < LiveMap::kMaxLeaves; ++region)
        map->add(region * kRegion + 0x10, 8);
    EXPECT_TRUE(map->complete());
    map->add(LiveMap::kMaxLeaves * kRegion + 0x10, 8);
    EXPECT_FALSE(map->complete());
    map->add((LiveMap::kMaxLeaves + 1) * kRegion + 0x10, 8); // no leaf tried any more
    EXPECT_FALSE(map->complete());
}

TEST_P(LiveMapTest, AnAddressBeyondTheMapMakesItIncomplete) {
    map->add(uint64_t{1} << LiveMap::kAddressBits, 16);
    EXPECT_FALSE(map->complete());
    EXPECT_EQ(map->take(uint64_t{1} << LiveMap::kAddressBits), 0u);
}

INSTANTIATE_TEST_SUITE_P(Granules, LiveMapTest, testing::Values(4u, 3u),
                         [](const testing::TestParamInfo<unsigned>& info) {
                             return info.param == 4 ? std::string("Of16Bytes")
                                                    : std::string("Of8Bytes");
                         });

} // namespace
} // namespace memtrace::preload
