// LiveBlockTable against std::unordered_map on the same operations, and HeapModel's batched
// apply against one event at a time.
#include "heap_model.h"
#include "live_block_table.h"

#include <gtest/gtest.h>
#include <random>
#include <unordered_map>
#include <vector>

namespace memtrace::test {
namespace {

struct Expected {
    uint64_t size;
    uint64_t time_ns;
    uint32_t stack_id;
};

void expect_same(const LiveBlockTable& table, const std::unordered_map<uint64_t, Expected>& map) {
    ASSERT_EQ(table.size(), map.size());
    size_t visited = 0;
    table.for_each([&](const LiveBlockTable::Slot& slot) {
        ++visited;
        const auto it = map.find(slot.address);
        ASSERT_NE(it, map.end()) << slot.address;
        EXPECT_EQ(slot.size, it->second.size);
        EXPECT_EQ(slot.time_ns, it->second.time_ns);
        EXPECT_EQ(slot.stack_id, it->second.stack_id);
    });
    EXPECT_EQ(visited, map.size());
}

TEST(LiveBlockTable, MatchesAMapUnderRandomInsertsAndErases) {
    LiveBlockTable table;
    std::unordered_map<uint64_t, Expected> map;
    std::mt19937_64 random(42);
    // Few distinct addresses, so that inserts hit live ones, erases shift back probe runs, and
    // the table grows through several rehashes; address 0 and the top address are keys too.
    std::vector<uint64_t> addresses = {0, UINT64_MAX};
    for (int i = 0; i < 20000; ++i)
        addresses.push_back((random() % 100000) * 16);
    for (uint64_t step = 0; step < 300000; ++step) {
        const uint64_t address = addresses[random() % addresses.size()];
        if (random() % 3 != 0) {
            bool inserted = false;
            LiveBlockTable::Slot& slot = table.find_or_insert(address, inserted);
            EXPECT_EQ(inserted, !map.contains(address));
            EXPECT_EQ(slot.address, address);
            slot.size = step * 3;
            slot.time_ns = step;
            slot.stack_id = static_cast<uint32_t>(step % 7);
            map[address] = {step * 3, step, static_cast<uint32_t>(step % 7)};
        } else {
            LiveBlockTable::Slot* slot = table.find(address);
            ASSERT_EQ(slot != nullptr, map.contains(address));
            if (slot != nullptr) {
                EXPECT_EQ(slot->time_ns, map[address].time_ns);
                table.erase(slot);
                map.erase(address);
            }
        }
        if (step % 50000 == 0) expect_same(table, map);
    }
    expect_same(table, map);
    for (const auto& [address, expected] : map) {
        const LiveBlockTable::Slot* slot = table.find(address);
        ASSERT_NE(slot, nullptr);
        EXPECT_EQ(slot->size, expected.size);
    }
}

TEST(LiveBlockTable, ErasesEveryEntryOfACollidingRun) {
    // Multiples of a large power of two share their low bits; the hash must still find them
    // all after entries in the middle of their probe runs are erased.
    LiveBlockTable table;
    std::unordered_map<uint64_t, Expected> map;
    for (uint64_t i = 1; i <= 2000; ++i) {
        bool inserted = false;
        table.find_or_insert(i << 32, inserted).size = i;
        map[i << 32] = {i, 0, 0};
    }
    for (uint64_t i = 1; i <= 2000; i += 3) {
        table.erase(table.find(i << 32));
        map.erase(i << 32);
    }
    expect_same(table, map);
    const LiveBlockTable copy = table;
    expect_same(copy, map);
    EXPECT_EQ(table.find(1ull << 32), nullptr);
}

TEST(LiveBlockTable, GrowsWithProbeRunsThatWrapAround) {
    // Keys whose home is the last slot of the smallest table: their run wraps past the end,
    // and growing must place them all again, findable, with the others.
    LiveBlockTable table;
    const size_t first_capacity = table.capacity();
    const unsigned bits = static_cast<unsigned>(__builtin_ctzll(first_capacity));
    std::unordered_map<uint64_t, Expected> map;
    std::mt19937_64 random(5);
    size_t wrapping = 0;
    while (table.capacity() < first_capacity * 4) {
        const uint64_t key = random();
        const bool last_slot = ((key * 0x9e3779b97f4a7c15ull) >> (64 - bits)) == first_capacity - 1;
        if (!last_slot && wrapping < 200) continue; // the wrapping run first
        wrapping += last_slot;
        bool inserted = false;
        table.find_or_insert(key, inserted).size = key / 3;
        map[key] = {key / 3, 0, 0};
    }
    expect_same(table, map);
    for (const auto& [key, expected] : map) {
        LiveBlockTable::Slot* slot = table.find(key);
        ASSERT_NE(slot, nullptr);
        EXPECT_EQ(slot->size, expected.size);
    }
}

std::vector<HeapEvent> random_events(uint64_t seed, size_t count) {
    std::mt19937_64 random(seed);
    std::vector<HeapEvent> events;
    std::vector<uint64_t> live;
    for (size_t i = 0; i < count; ++i) {
        HeapEvent event;
        event.time_ns = 1000 + i / 3; // ties, as in a dump
        if (!live.empty() && random() % 2 == 0) {
            const size_t pick = random() % live.size();
            event.type = HeapEvent::Type::Free;
            event.address = live[pick];
            live[pick] = live.back();
            live.pop_back();
        } else {
            event.type = HeapEvent::Type::Alloc;
            event.address = (random() % 5000) * 16; // sometimes live already: replaced
            event.size = random() % 70000;
            event.stack_id = static_cast<uint32_t>(random() % 50) + 1;
            if (random() % 100 == 0) event.stack_id = 0xfffffff0u; // beyond the dense array
            live.push_back(event.address);
        }
        if (random() % 50 == 0) event.address = 0xdead0; // unknown frees, replaced blocks
        events.push_back(event);
    }
    return events;
}

void expect_same_model(const HeapModel& a, const HeapModel& b) {
    EXPECT_EQ(a.totals().allocations, b.totals().allocations);
    EXPECT_EQ(a.totals().frees, b.totals().frees);
    EXPECT_EQ(a.totals().bytes_allocated, b.totals().bytes_allocated);
    EXPECT_EQ(a.totals().unknown_frees, b.totals().unknown_frees);
    EXPECT_EQ(a.totals().replaced_blocks, b.totals().replaced_blocks);
    EXPECT_EQ(a.live_bytes(), b.live_bytes());
    EXPECT_EQ(a.live_block_count(), b.live_block_count());
    EXPECT_EQ(a.peak_bytes(), b.peak_bytes());
    EXPECT_EQ(a.peak_blocks(), b.peak_blocks());
    EXPECT_EQ(a.peak_time_ns(), b.peak_time_ns());
    ASSERT_EQ(a.live_blocks().size(), b.live_blocks().size());
    for (const auto& [address, block] : a.live_blocks()) {
        const LiveBlock& other = b.live_blocks().at(address);
        EXPECT_EQ(block.size, other.size);
        EXPECT_EQ(block.time_ns, other.time_ns);
        EXPECT_EQ(block.stack_id, other.stack_id);
        EXPECT_EQ(block.est_bytes, other.est_bytes);
        EXPECT_EQ(block.est_blocks, other.est_blocks);
    }
    ASSERT_EQ(a.stack_stats().size(), b.stack_stats().size());
    for (const auto& [id, stats] : a.stack_stats()) {
        const StackStats& other = b.stack_stats().at(id);
        EXPECT_EQ(stats.allocations, other.allocations);
        EXPECT_EQ(stats.bytes_allocated, other.bytes_allocated);
        EXPECT_EQ(stats.live_blocks, other.live_blocks);
        EXPECT_EQ(stats.live_bytes, other.live_bytes);
    }
}

TEST(HeapModel, BatchedApplyEqualsOneEventAtATime) {
    for (const uint64_t sample_bytes : {uint64_t{0}, uint64_t{4096}}) {
        const std::vector<HeapEvent> events = random_events(7 + sample_bytes, 60000);
        HeapModel one(sample_bytes);
        for (const HeapEvent& event : events)
            one.apply(event);
        HeapModel batched(sample_bytes);
        // Batches of every length from 1 up, so that prefetching crosses their ends.
        std::span<const HeapEvent> rest(events);
        for (size_t length = 1; !rest.empty(); ++length) {
            const size_t n = std::min(length, rest.size());
            batched.apply(rest.first(n));
            rest = rest.subspan(n);
        }
        expect_same_model(one, batched);
        EXPECT_GT(one.totals().unknown_frees, 0u);
        EXPECT_GT(one.totals().replaced_blocks, 0u);
    }
}

TEST(HeapModel, DropBlocksKeepsTheFigures) {
    HeapModel model;
    for (const HeapEvent& event : random_events(3, 1000))
        model.apply(event);
    const uint64_t live = model.live_bytes();
    const uint64_t peak = model.peak_bytes();
    model.drop_blocks();
    EXPECT_EQ(model.live_bytes(), live);
    EXPECT_EQ(model.peak_bytes(), peak);
    EXPECT_TRUE(model.live_blocks().empty());
    EXPECT_TRUE(model.stack_stats().empty());
}

} // namespace
} // namespace memtrace::test
