#include "growth/site_diff.h"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace memtrace::growth {
namespace {

void add(LiveFigures& total, const LiveFigures& more) {
    total.bytes += more.bytes;
    total.blocks += more.blocks;
}

// 0: grew, 1: same bytes but other blocks, 2: shrank.
int direction(const SiteDelta& delta) {
    if (delta.delta_bytes() > 0) return 0;
    if (delta.delta_bytes() == 0) return 1;
    return 2;
}

bool comes_before(const SiteDelta& x, const SiteDelta& y) {
    if (direction(x) != direction(y)) return direction(x) < direction(y);
    const int64_t x_bytes = x.delta_bytes() < 0 ? -x.delta_bytes() : x.delta_bytes();
    const int64_t y_bytes = y.delta_bytes() < 0 ? -y.delta_bytes() : y.delta_bytes();
    if (x_bytes != y_bytes) return x_bytes > y_bytes;
    const int64_t x_blocks = x.delta_blocks() < 0 ? -x.delta_blocks() : x.delta_blocks();
    const int64_t y_blocks = y.delta_blocks() < 0 ? -y.delta_blocks() : y.delta_blocks();
    if (x_blocks != y_blocks) return x_blocks > y_blocks;
    return x.order_key < y.order_key;
}

} // namespace

const char* site_match_name(SiteMatch match) {
    switch (match) {
    case SiteMatch::Frames:
        return "frames";
    case SiteMatch::Functions:
        return "functions";
    case SiteMatch::OnlyA:
        return "only_a";
    case SiteMatch::OnlyB:
        return "only_b";
    }
    return "?";
}

SiteDiff diff_sites(const std::vector<KeyedSite>& a, const std::vector<KeyedSite>& b) {
    SiteDiff diff;
    std::vector<SiteDelta> deltas;
    std::unordered_map<std::string, size_t> b_by_exact;
    for (size_t i = 0; i < b.size(); ++i) {
        b_by_exact.emplace(b[i].keys.exact, i);
        add(diff.b_total, b[i].live);
    }

    std::vector<bool> b_matched(b.size(), false);
    // Leftovers by loose key; std::map keeps the output independent of hash order.
    std::map<std::string, SiteDelta> loose;
    for (size_t i = 0; i < a.size(); ++i) {
        add(diff.a_total, a[i].live);
        const auto partner = b_by_exact.find(a[i].keys.exact);
        if (partner != b_by_exact.end()) {
            b_matched[partner->second] = true;
            deltas.push_back({SiteMatch::Frames,
                              {i},
                              {partner->second},
                              a[i].live,
                              b[partner->second].live,
                              a[i].keys.exact});
            continue;
        }
        SiteDelta& group = loose[a[i].keys.loose];
        if (group.a_sites.empty() && group.b_sites.empty()) group.order_key = a[i].keys.exact;
        group.a_sites.push_back(i);
        add(group.a, a[i].live);
    }
    for (size_t i = 0; i < b.size(); ++i) {
        if (b_matched[i]) continue;
        SiteDelta& group = loose[b[i].keys.loose];
        if (group.a_sites.empty() && group.b_sites.empty()) group.order_key = b[i].keys.exact;
        group.b_sites.push_back(i);
        add(group.b, b[i].live);
    }
    for (auto& [key, group] : loose) {
        if (!group.a_sites.empty() && !group.b_sites.empty()) {
            group.match = SiteMatch::Functions;
            deltas.push_back(std::move(group));
            continue;
        }
        // One side only: each exact key stays a site of its own.
        const bool in_a = !group.a_sites.empty();
        for (const size_t i : in_a ? group.a_sites : group.b_sites) {
            SiteDelta single;
            single.match = in_a ? SiteMatch::OnlyA : SiteMatch::OnlyB;
            if (in_a) {
                single.a_sites = {i};
                single.a = a[i].live;
                single.order_key = a[i].keys.exact;
            } else {
                single.b_sites = {i};
                single.b = b[i].live;
                single.order_key = b[i].keys.exact;
            }
            deltas.push_back(std::move(single));
        }
    }

    for (SiteDelta& delta : deltas) {
        if (delta.delta_bytes() == 0 && delta.delta_blocks() == 0) {
            ++diff.unchanged;
        } else {
            diff.changed.push_back(std::move(delta));
        }
    }
    std::sort(diff.changed.begin(), diff.changed.end(), comes_before);
    return diff;
}

} // namespace memtrace::growth
