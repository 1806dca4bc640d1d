#include "memory/anonymous_mappings.h"

#include <algorithm>
#include <limits>

namespace memtrace::memory {
namespace {

uint64_t page_end(uint64_t start, uint64_t length) {
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    if (length > max - start) return max - (max % kPageSize);
    const uint64_t end = start + length;
    const uint64_t rounded = end + (kPageSize - 1);
    return rounded < end ? max - (max % kPageSize) : rounded / kPageSize * kPageSize;
}

} // namespace

bool AnonymousMappings::overlaps(uint64_t start, uint64_t end, uint32_t* stack_id) const {
    auto it = regions_.upper_bound(start);
    if (it != regions_.begin()) {
        auto before = std::prev(it);
        if (before->second.end > start) {
            *stack_id = before->second.stack_id;
            return true;
        }
    }
    if (it != regions_.end() && it->first < end) {
        *stack_id = it->second.stack_id;
        return true;
    }
    return false;
}

void AnonymousMappings::remove_range(uint64_t start, uint64_t end) {
    if (start >= end) return;
    auto it = regions_.upper_bound(start);
    if (it != regions_.begin()) --it;
    while (it != regions_.end() && it->first < end) {
        const uint64_t region_start = it->first;
        const MappedRegion region = it->second;
        if (region.end <= start) {
            ++it;
            continue;
        }
        it = regions_.erase(it);
        const uint64_t cut_start = std::max(region_start, start);
        const uint64_t cut_end = std::min(region.end, end);
        live_bytes_ -= cut_end - cut_start;
        // What is left on either side of the cut stays mapped.
        if (region_start < start)
            regions_.emplace(region_start, MappedRegion{start, region.stack_id});
        if (region.end > end)
            it = regions_.emplace(end, MappedRegion{region.end, region.stack_id}).first;
    }
}

void AnonymousMappings::add_region(uint64_t start, uint64_t end, uint32_t stack_id) {
    if (start >= end) return;
    // The kernel replaces whatever was mapped there (MAP_FIXED), so any overlap goes first.
    remove_range(start, end);
    regions_.emplace(start, MappedRegion{end, stack_id});
    live_bytes_ += end - start;
}

void AnonymousMappings::apply(const MemoryMapEvent& event) {
    switch (event.op) {
    case format::MemoryMapOp::Map: {
        CallTotals& calls = calls_[event.stack_id];
        calls.maps += 1;
        calls.bytes += event.length;
        calls.lengths[event.length] += 1;
        add_region(event.address, page_end(event.address, event.length), event.stack_id);
        return;
    }
    case format::MemoryMapOp::Unmap:
        remove_range(event.address, page_end(event.address, event.length));
        return;
    case format::MemoryMapOp::Remap: {
        const uint64_t old_end = page_end(event.address, event.length);
        uint32_t old_stack = format::kNoStack;
        // A remap of memory this tracker never saw mapped (a file, or glibc's own) is not ours.
        if (!overlaps(event.address, old_end, &old_stack)) return;
        remove_range(event.address, old_end);
        const uint32_t stack = event.stack_id != format::kNoStack ? event.stack_id : old_stack;
        CallTotals& calls = calls_[stack];
        calls.maps += 1;
        calls.bytes += event.new_length;
        add_region(event.new_address, page_end(event.new_address, event.new_length), stack);
        return;
    }
    }
}

std::vector<MappingSite> AnonymousMappings::sites() const {
    std::unordered_map<uint32_t, MappingSite> by_stack;
    for (const auto& [stack_id, calls] : calls_) {
        MappingSite& site = by_stack[stack_id];
        site.stack_id = stack_id;
        site.maps = calls.maps;
        site.bytes_mapped = calls.bytes;
        site.lengths = calls.lengths;
    }
    for (const auto& [start, region] : regions_) {
        MappingSite& site = by_stack[region.stack_id];
        site.stack_id = region.stack_id;
        site.live_bytes += region.end - start;
        site.live_regions += 1;
    }
    std::vector<MappingSite> sites;
    sites.reserve(by_stack.size());
    for (auto& [stack_id, site] : by_stack)
        sites.push_back(std::move(site));
    std::sort(sites.begin(), sites.end(), [](const MappingSite& a, const MappingSite& b) {
        if (a.live_bytes != b.live_bytes) return a.live_bytes > b.live_bytes;
        if (a.bytes_mapped != b.bytes_mapped) return a.bytes_mapped > b.bytes_mapped;
        return a.stack_id < b.stack_id;
    });
    return sites;
}

} // namespace memtrace::memory
