// The difference between two heap states, site by site: which sites grew, which shrank.
// Pure logic over sites already keyed (site_key.h) and summed per exact key; the report
// (reports/diff_report.h) adds frames and output.
#pragma once

#include "growth/site_key.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace memtrace::growth {

struct LiveFigures {
    uint64_t bytes = 0;
    uint64_t blocks = 0;
};

// One site of one heap state: a distinct exact key with its live figures.
struct KeyedSite {
    SiteKeys keys;
    LiveFigures live;
};

// How the two sides of a SiteDelta were paired.
enum class SiteMatch {
    Frames,    // same exact key
    Functions, // no exact partner on either side; the loose keys (functions only) agree
    OnlyA,     // no partner in B (gone, or a stack B does not have)
    OnlyB,     // no partner in A (new)
};
const char* site_match_name(SiteMatch match); // "frames", "functions", "only_a", "only_b"

struct SiteDelta {
    SiteMatch match = SiteMatch::Frames;
    std::vector<size_t> a_sites; // indices into the A input (several when matched loosely)
    std::vector<size_t> b_sites;
    LiveFigures a;
    LiveFigures b;
    std::string order_key; // the first site's exact key, for a deterministic order

    int64_t delta_bytes() const {
        return static_cast<int64_t>(b.bytes) - static_cast<int64_t>(a.bytes);
    }
    int64_t delta_blocks() const {
        return static_cast<int64_t>(b.blocks) - static_cast<int64_t>(a.blocks);
    }
};

struct SiteDiff {
    // Sites whose live bytes or blocks changed: growth (largest first), then sites whose
    // blocks changed but not their bytes, then shrinkage (largest first).
    std::vector<SiteDelta> changed;
    size_t unchanged = 0; // matched sites with the same bytes and blocks on both sides
    LiveFigures a_total;
    LiveFigures b_total;
};

// Pairs the sites of A and B: first by exact key; the sites left over are grouped by loose key,
// and a loose key present on both sides makes one SiteDelta of all its leftovers. Exact keys
// must be unique within each input.
SiteDiff diff_sites(const std::vector<KeyedSite>& a, const std::vector<KeyedSite>& b);

} // namespace memtrace::growth
