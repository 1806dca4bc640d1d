// Pairing the sites of two heap states and ordering the changes.
#include "growth/site_diff.h"

#include <gtest/gtest.h>

namespace memtrace::growth {
namespace {

KeyedSite site(std::string exact, std::string loose, uint64_t bytes, uint64_t blocks) {
    return {{std::move(exact), std::move(loose)}, {bytes, blocks}};
}

TEST(SiteDiff, OrdersGrowthThenSameBytesThenShrink) {
    const std::vector<KeyedSite> a = {
        site("small-growth", "1", 100, 1), site("big-growth", "2", 100, 1),
        site("small-shrink", "3", 500, 5), site("big-shrink", "4", 5000, 5),
        site("same", "5", 64, 1),          site("reshaped", "6", 64, 1),
    };
    const std::vector<KeyedSite> b = {
        site("big-shrink", "4", 1000, 1),  site("same", "5", 64, 1),
        site("small-growth", "1", 110, 2), site("reshaped", "6", 64, 2),
        site("small-shrink", "3", 490, 4), site("big-growth", "2", 9000, 9),
    };
    const SiteDiff diff = diff_sites(a, b);
    ASSERT_EQ(diff.changed.size(), 5u);
    EXPECT_EQ(diff.changed[0].order_key, "big-growth");
    EXPECT_EQ(diff.changed[0].delta_bytes(), 8900);
    EXPECT_EQ(diff.changed[0].delta_blocks(), 8);
    EXPECT_EQ(diff.changed[1].order_key, "small-growth");
    EXPECT_EQ(diff.changed[2].order_key, "reshaped");
    EXPECT_EQ(diff.changed[2].delta_bytes(), 0);
    EXPECT_EQ(diff.changed[3].order_key, "big-shrink");
    EXPECT_EQ(diff.changed[3].delta_bytes(), -4000);
    EXPECT_EQ(diff.changed[3].delta_blocks(), -4);
    EXPECT_EQ(diff.changed[4].order_key, "small-shrink");
    for (const SiteDelta& delta : diff.changed) {
        EXPECT_EQ(delta.match, SiteMatch::Frames);
        EXPECT_EQ(delta.a_sites.size(), 1u);
        EXPECT_EQ(delta.b_sites.size(), 1u);
    }
    EXPECT_EQ(a[diff.changed[3].a_sites[0]].keys.exact, "big-shrink");
    EXPECT_EQ(b[diff.changed[3].b_sites[0]].keys.exact, "big-shrink");
    EXPECT_EQ(diff.unchanged, 1u);
    EXPECT_EQ(diff.a_total.bytes, 100u + 100 + 500 + 5000 + 64 + 64);
    EXPECT_EQ(diff.a_total.blocks, 14u);
    EXPECT_EQ(diff.b_total.bytes, 1000u + 64 + 110 + 64 + 490 + 9000);
    EXPECT_EQ(diff.b_total.blocks, 19u);
}

TEST(SiteDiff, SitesOnOneSideOnly) {
    const SiteDiff diff = diff_sites({site("gone", "g", 300, 3)}, {site("new", "n", 200, 2)});
    ASSERT_EQ(diff.changed.size(), 2u);
    EXPECT_EQ(diff.changed[0].match, SiteMatch::OnlyB);
    EXPECT_EQ(diff.changed[0].delta_bytes(), 200);
    EXPECT_TRUE(diff.changed[0].a_sites.empty());
    EXPECT_EQ(diff.changed[1].match, SiteMatch::OnlyA);
    EXPECT_EQ(diff.changed[1].delta_bytes(), -300);
    EXPECT_EQ(diff.changed[1].delta_blocks(), -3);
    EXPECT_STREQ(site_match_name(diff.changed[1].match), "only_a");
}

TEST(SiteDiff, LeftoversWithTheSameFunctionsMatchLoosely) {
    // Line numbers moved between the builds; the exact keys differ, the functions agree.
    const SiteDiff diff =
        diff_sites({site("cache:40", "cache", 1000, 1), site("other:1", "other", 10, 1),
                    site("dup:5", "dup", 5, 1), site("dup:6", "dup", 6, 1)},
                   {site("cache:42", "cache", 3000, 3), site("other:1", "other", 10, 1),
                    site("dup:7", "dup", 20, 2)});
    ASSERT_EQ(diff.changed.size(), 2u);
    EXPECT_EQ(diff.changed[0].match, SiteMatch::Functions);
    EXPECT_EQ(diff.changed[0].delta_bytes(), 2000);
    EXPECT_EQ(diff.changed[1].match, SiteMatch::Functions);
    EXPECT_EQ(diff.changed[1].a_sites.size(), 2u); // both leftovers of "dup" in one site
    EXPECT_EQ(diff.changed[1].a.bytes, 11u);
    EXPECT_EQ(diff.changed[1].b.bytes, 20u);
    EXPECT_EQ(diff.unchanged, 1u);
}

TEST(SiteDiff, ExactMatchesAreNotTakenByLooseOnes) {
    // "f:1" exists on both sides; the extra "f:2" in B is new, not a partner of A's "f:1".
    const SiteDiff diff =
        diff_sites({site("f:1", "f", 100, 1)}, {site("f:1", "f", 100, 1), site("f:2", "f", 50, 1)});
    ASSERT_EQ(diff.changed.size(), 1u);
    EXPECT_EQ(diff.changed[0].match, SiteMatch::OnlyB);
    EXPECT_EQ(diff.changed[0].delta_bytes(), 50);
    EXPECT_EQ(diff.unchanged, 1u);
}

TEST(SiteDiff, EmptyStates) {
    const SiteDiff diff = diff_sites({}, {});
    EXPECT_TRUE(diff.changed.empty());
    EXPECT_EQ(diff.unchanged, 0u);
    EXPECT_EQ(diff.a_total.bytes, 0u);
}

} // namespace
} // namespace memtrace::growth
