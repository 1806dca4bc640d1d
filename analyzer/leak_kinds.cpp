#include "leak_kinds.h"

#include <algorithm>
#include <map>
#include <utility>

namespace memtrace {

const char* leak_kind_name(LeakKind kind) {
    switch (kind) {
    case LeakKind::Definite:
        return "definite";
    case LeakKind::Indirect:
        return "indirect";
    case LeakKind::Reachable:
        return "reachable";
    case LeakKind::Live:
        break;
    }
    return "live";
}

std::optional<LeakKind> leak_kind_from_name(std::string_view name) {
    for (size_t i = 0; i < kLeakKindCount; ++i) {
        const auto kind = static_cast<LeakKind>(i);
        if (name == leak_kind_name(kind)) return kind;
    }
    return std::nullopt;
}

bool scan_completed(const LeakScanResult& scan) {
    return scan.present && scan.status == format::LeakScanStatus::Complete;
}

LeakKind classify_block(uint64_t address, const LiveBlock& block, const LeakScanResult& scan) {
    // A block allocated after the scan may sit at the address of a block the scan listed and
    // that was freed since: it is a different block, which the scan never saw.
    if (!scan_completed(scan) || block.time_ns > scan.time_ns) return LeakKind::Live;
    const auto listed = scan.unreachable.find(address);
    if (listed == scan.unreachable.end()) return LeakKind::Reachable;
    switch (listed->second) {
    case format::BlockKind::Definite:
        return LeakKind::Definite;
    case format::BlockKind::Indirect:
        return LeakKind::Indirect;
    case format::BlockKind::Reachable:
        break;
    }
    return LeakKind::Reachable;
}

LeakClassification classify_leaks(const HeapModel& model, const LeakScanResult& scan) {
    LeakClassification result;
    result.scanned = scan_completed(scan);
    std::map<std::pair<uint32_t, LeakKind>, KindedSite> by_site;
    model.for_each_live_block([&](uint64_t address, const LiveBlock& block) {
        const LeakKind kind = classify_block(address, block, scan);
        KindedSite& site = by_site[{block.stack_id, kind}];
        site.stack_id = block.stack_id;
        site.kind = kind;
        // Estimates in a sampled dump (which never has a scan); the block itself otherwise.
        site.bytes += block.est_bytes;
        site.blocks += block.est_blocks;
    });
    result.sites.reserve(by_site.size());
    for (const auto& [key, site] : by_site) {
        KindTotals& total = result.totals[static_cast<size_t>(site.kind)];
        total.bytes += site.bytes;
        total.blocks += site.blocks;
        total.sites += 1;
        result.sites.push_back(site);
    }
    std::sort(result.sites.begin(), result.sites.end(),
              [](const KindedSite& a, const KindedSite& b) {
                  if (a.bytes != b.bytes) return a.bytes > b.bytes;
                  if (a.blocks != b.blocks) return a.blocks > b.blocks;
                  if (a.stack_id != b.stack_id) return a.stack_id < b.stack_id;
                  return a.kind < b.kind;
              });
    return result;
}

LeakTotals compute_leak_totals(const std::string& dump_path) {
    const DumpReader reader(dump_path);
    const HeapModel model = replay(reader);
    const LeakClassification leaks = classify_leaks(model, reader.leak_scan());
    LeakTotals totals;
    for (LeakKind kind : {LeakKind::Definite, LeakKind::Indirect, LeakKind::Live}) {
        totals.bytes += leaks.total(kind).bytes;
        totals.blocks += leaks.total(kind).blocks;
    }
    totals.reachable_bytes = leaks.total(LeakKind::Reachable).bytes;
    totals.reachable_blocks = leaks.total(LeakKind::Reachable).blocks;
    totals.complete = reader.complete();
    totals.scanned = leaks.scanned;
    totals.estimated = reader.sampled();
    return totals;
}

} // namespace memtrace
