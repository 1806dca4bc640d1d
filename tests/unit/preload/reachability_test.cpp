// The marking of the leak scan on blocks laid out in a test buffer: pointers, interior
// pointers, chains, cycles, and memory that cannot be read.
#include "reachability.h"

#include <algorithm>
#include <cstring>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace {

namespace mp = memtrace::preload;
using mp::BlockState;

// A fake heap: 16 blocks of 64 bytes each at 64-byte steps, in one page-aligned mapping.
class FakeHeap {
public:
    static constexpr size_t kBlocks = 16;
    static constexpr size_t kBlockSize = 64;

    FakeHeap() {
        memory_ = static_cast<uint8_t*>(
            mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        for (size_t i = 0; i < kBlocks; ++i)
            blocks_[i] = mp::LiveBlock{address(i), kBlockSize};
    }
    ~FakeHeap() {
        munmap(memory_, 4096);
    }
    uintptr_t address(size_t i) const {
        return reinterpret_cast<uintptr_t>(memory_) + i * kBlockSize;
    }
    // Stores `target` in word `word` of block i.
    void point(size_t i, size_t word, uintptr_t target) {
        memcpy(memory_ + i * kBlockSize + word * sizeof(uintptr_t), &target, sizeof(target));
    }
    const mp::LiveBlock* blocks() const {
        return blocks_;
    }

private:
    uint8_t* memory_;
    mp::LiveBlock blocks_[kBlocks];
};

std::vector<BlockState> states(const mp::Reachability& r, size_t n) {
    std::vector<BlockState> out;
    for (size_t i = 0; i < n; ++i)
        out.push_back(r.state(i));
    return out;
}

TEST(Reachability, RootsChainsInteriorPointersAndCycles) {
    FakeHeap heap;
    // Block 0 <- root; 0 -> 1 (interior pointer, +40) -> 2.
    heap.point(0, 3, heap.address(1) + 40);
    heap.point(1, 0, heap.address(2));
    // Unreached: 3 -> 4 -> 5 (3 definite, 4 and 5 indirect).
    heap.point(3, 0, heap.address(4));
    heap.point(4, 7, heap.address(5));
    // A cycle nobody points to: 6 <-> 7 (6 definite, 7 indirect).
    heap.point(6, 0, heap.address(7));
    heap.point(7, 0, heap.address(6));
    // 9 -> 8 where 8 has a lower address (8 becomes indirect when 9's turn comes).
    heap.point(9, 0, heap.address(8));
    // 10 alone: definite. 11 reached from a root word (a register).
    // A pointer just past the end of block 12 does not reach it (it is block 13's start).
    heap.point(0, 5, heap.address(12) + FakeHeap::kBlockSize + 8);

    static uintptr_t root_area[64];
    root_area[17] = heap.address(0);
    mp::ScanArena arena;
    mp::Reachability r(arena, heap.blocks(), 14);
    ASSERT_TRUE(r.init());
    r.scan_root_range(reinterpret_cast<uintptr_t>(root_area),
                      reinterpret_cast<uintptr_t>(root_area + 64));
    const uintptr_t registers[] = {0, heap.address(11) + 3};
    r.scan_root_words(registers, 2);
    r.propagate();
    r.classify();
    using S = BlockState;
    const std::vector<BlockState> expected = {
        S::Reachable, S::Reachable, S::Reachable, S::Definite, S::Indirect,
        S::Indirect,  S::Definite,  S::Indirect,  S::Indirect, S::Definite,
        S::Definite,  S::Reachable, S::Definite,  S::Reachable};
    EXPECT_EQ(states(r, 14), expected);
}

TEST(Reachability, GlibcNextChunkHeaderIsNotAPointer) {
    // A 600-byte block: glibc's next chunk starts 592 bytes in, inside the requested size.
    static uint8_t area[2048] __attribute__((aligned(16)));
    const mp::LiveBlock blocks[] = {{reinterpret_cast<uintptr_t>(area), 600}};
    mp::ScanArena arena;
    mp::Reachability r(arena, blocks, 1);
    ASSERT_TRUE(r.init());
    EXPECT_EQ(r.find(blocks[0].address + 592), SIZE_MAX);
    EXPECT_EQ(r.find(blocks[0].address + 584), 0u);
    EXPECT_EQ(r.find(blocks[0].address + 599), 0u);
    EXPECT_EQ(r.find(blocks[0].address + 600), SIZE_MAX);
}

TEST(Reachability, UnreadableMemoryIsSkippedNotFaulted) {
    FakeHeap heap;
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    // Three pages: readable, PROT_NONE, readable; a root pointer on each readable one.
    auto* roots = static_cast<uint8_t*>(
        mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(roots, MAP_FAILED);
    const uintptr_t first = heap.address(0), last = heap.address(1);
    memcpy(roots + 8, &first, sizeof(first));
    memcpy(roots + 2 * page + 16, &last, sizeof(last));
    ASSERT_EQ(mprotect(roots + page, page, PROT_NONE), 0);
    // Block 2 "lives" in memory that is gone (freed and unmapped by another thread).
    auto* gone = static_cast<uint8_t*>(
        mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_EQ(munmap(gone, page), 0);
    const uintptr_t gone_address = reinterpret_cast<uintptr_t>(gone);
    memcpy(roots + 2 * page + 24, &gone_address, sizeof(gone_address));

    std::vector<mp::LiveBlock> blocks(heap.blocks(), heap.blocks() + 2);
    blocks.push_back(mp::LiveBlock{gone_address, 64});
    std::sort(blocks.begin(), blocks.end(),
              [](const mp::LiveBlock& a, const mp::LiveBlock& b) { return a.address < b.address; });
    mp::ScanArena arena;
    mp::Reachability r(arena, blocks.data(), blocks.size());
    ASSERT_TRUE(r.init());
    r.scan_root_range(reinterpret_cast<uintptr_t>(roots),
                      reinterpret_cast<uintptr_t>(roots) + 3 * page);
    r.propagate();
    r.classify();
    for (size_t i = 0; i < blocks.size(); ++i)
        EXPECT_EQ(r.state(i), BlockState::Reachable) << i;
    munmap(roots, 3 * page);
}

} // namespace

namespace {

TEST(Reachability, CycleLeadingToALowerCycleMakesTheLowerOneIndirect) {
    // Cycle Y = {0, 1} (lower addresses), cycle X = {2, 3}, and 3 -> 0. Nothing points to X from
    // outside, so X's lowest block is definite and all of Y is indirect (memcheck's cliques).
    // Block 4: a self-pointer only, still definite.
    FakeHeap heap;
    heap.point(0, 0, heap.address(1));
    heap.point(1, 0, heap.address(0));
    heap.point(2, 0, heap.address(3));
    heap.point(3, 0, heap.address(2));
    heap.point(3, 1, heap.address(0) + 8);
    heap.point(4, 2, heap.address(4));
    mp::ScanArena arena;
    mp::Reachability r(arena, heap.blocks(), 5);
    ASSERT_TRUE(r.init());
    r.propagate();
    r.classify();
    using S = BlockState;
    const std::vector<BlockState> expected = {S::Indirect, S::Indirect, S::Definite, S::Indirect,
                                              S::Definite};
    EXPECT_EQ(states(r, 5), expected);
}

} // namespace
