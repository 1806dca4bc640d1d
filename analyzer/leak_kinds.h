// What kind of leak each block still live at the end of a dump is, from the reachability scan
// the process ran at exit (LeakScan records): definitely lost, indirectly lost (only reachable
// from lost blocks), still reachable, or just live when no scan covers it.
#pragma once

#include "dump_reader.h"
#include "heap_model.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memtrace {

// In the order reports list them.
enum class LeakKind : uint8_t { Definite = 0, Indirect = 1, Reachable = 2, Live = 3 };
inline constexpr size_t kLeakKindCount = 4;

// "definite", "indirect", "reachable", "live" (the JSON and SARIF names).
const char* leak_kind_name(LeakKind kind);
std::optional<LeakKind> leak_kind_from_name(std::string_view name);

// A scan counts only when it ran to the end; a skipped or failed scan says nothing.
bool scan_completed(const LeakScanResult& scan);

// Listed by the scan: definite or indirect. Live at scan time and not listed: reachable.
// Allocated after the scan (the scan knew nothing of it), or no completed scan: live.
LeakKind classify_block(uint64_t address, const LiveBlock& block, const LeakScanResult& scan);

// The live blocks of one allocation stack that share a kind.
struct KindedSite {
    uint32_t stack_id = 0;
    LeakKind kind = LeakKind::Live;
    uint64_t bytes = 0;
    uint64_t blocks = 0;
};

struct KindTotals {
    uint64_t bytes = 0;
    uint64_t blocks = 0;
    uint64_t sites = 0;
};

struct LeakClassification {
    bool scanned = false; // a completed scan is in the dump
    // Most bytes first, then most blocks, then lowest stack id, then kind order.
    std::vector<KindedSite> sites;
    std::array<KindTotals, kLeakKindCount> totals{};

    const KindTotals& total(LeakKind kind) const {
        return totals[static_cast<size_t>(kind)];
    }
};

LeakClassification classify_leaks(const HeapModel& model, const LeakScanResult& scan);

// What `memtrace run` says at the end: the blocks lost (definite, indirect, or live where no scan
// ran) and those still reachable.
struct LeakTotals {
    uint64_t bytes = 0;
    uint64_t blocks = 0;
    uint64_t reachable_bytes = 0;
    uint64_t reachable_blocks = 0;
    bool complete = false;
    bool scanned = false;
    bool estimated = false; // a sampled dump
};

// Throws DumpError.
LeakTotals compute_leak_totals(const std::string& dump_path);

} // namespace memtrace
