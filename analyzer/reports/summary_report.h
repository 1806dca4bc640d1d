// `memtrace report`: one page about a traced run: the process, how it ended, allocation
// totals, the peak of live heap, what was left at the end, and the busiest allocation sites.
#pragma once

#include "heap_model.h"

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace memtrace::reports {

inline constexpr size_t kTopSites = 10;

struct AllocationSite {
    uint32_t stack_id = 0;
    StackStats stats;
};

// The `limit` stacks that allocated the most bytes (ties: more allocations, then lower id).
std::vector<AllocationSite> top_sites_by_bytes(const HeapModel& model, size_t limit);
// The `limit` stacks that allocated most often (ties: more bytes, then lower id).
std::vector<AllocationSite> top_sites_by_count(const HeapModel& model, size_t limit);

struct SummaryReportOptions {
    bool json = false;
};

// Reads the dump and writes the report. Throws DumpError.
void write_summary_report(const std::string& dump_path, const SummaryReportOptions& options,
                          std::ostream& out);

} // namespace memtrace::reports
