// FlatMap against std::unordered_map on the same operations, through growth in place.
#include "flat_map.h"

#include <array>
#include <gtest/gtest.h>
#include <random>
#include <unordered_map>

namespace memtrace::test {
namespace {

struct Wide {
    std::array<uint64_t, 7> words{};
    uint8_t count = 0;
};

bool same(uint64_t a, uint64_t b) {
    return a == b;
}
bool same(const Wide& a, const Wide& b) {
    return a.words == b.words && a.count == b.count;
}

template <typename Value, typename Make>
void check_against_map(uint64_t seed, size_t key_range, uint64_t key_step, Make make) {
    FlatMap<Value> map;
    std::unordered_map<uint64_t, uint64_t> expected; // key -> what make() was given
    std::mt19937_64 random(seed);
    for (uint64_t step = 1; step <= 200000; ++step) {
        const uint64_t key = (random() % key_range) * key_step;
        switch (random() % 4) {
        case 0: {
            EXPECT_EQ(map.erase(key), expected.erase(key) == 1);
            break;
        }
        case 1: {
            const Value* found = map.find(key);
            ASSERT_EQ(found != nullptr, expected.contains(key));
            if (found != nullptr) {
                EXPECT_TRUE(same(*found, make(expected[key])));
            }
            break;
        }
        default: {
            bool inserted = false;
            Value& value = map.find_or_insert(key, inserted);
            EXPECT_EQ(inserted, !expected.contains(key));
            if (inserted) {
                EXPECT_TRUE(same(value, Value{}));
            }
            value = make(step);
            expected[key] = step;
        }
        }
    }
    ASSERT_EQ(map.size(), expected.size());
    size_t visited = 0;
    map.for_each([&](uint64_t key, const Value& value) {
        ++visited;
        ASSERT_TRUE(expected.contains(key));
        EXPECT_TRUE(same(value, make(expected[key])));
    });
    EXPECT_EQ(visited, expected.size());
    const FlatMap<Value> copy = map;
    EXPECT_EQ(copy.size(), map.size());
}

TEST(FlatMap, MatchesAMapWithSmallValues) {
    check_against_map<uint64_t>(1, 30000, 1, [](uint64_t v) { return v * 7; });
}

TEST(FlatMap, MatchesAMapWithWideValuesAndAlignedKeys) {
    check_against_map<Wide>(2, 5000, 4096, [](uint64_t v) {
        Wide w;
        w.words[v % 7] = v;
        w.count = static_cast<uint8_t>(v);
        return w;
    });
}

TEST(FlatMap, SequentialKeysAsTheCodecUsesThem) {
    // Sequence numbers: inserted in order, most erased soon after, some long-lived.
    FlatMap<uint64_t> map;
    std::unordered_map<uint64_t, uint64_t> expected;
    for (uint64_t key = 0; key < 100000; ++key) {
        map[key] = key + 1;
        expected[key] = key + 1;
        if (key >= 10 && key % 5 != 0) {
            EXPECT_TRUE(map.erase(key - 10));
            expected.erase(key - 10);
        }
    }
    ASSERT_EQ(map.size(), expected.size());
    for (const auto& [key, value] : expected) {
        const uint64_t* found = map.find(key);
        ASSERT_NE(found, nullptr);
        EXPECT_EQ(*found, value);
    }
}

} // namespace
} // namespace memtrace::test
