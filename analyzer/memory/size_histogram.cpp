#include "memory/size_histogram.h"

namespace memtrace::memory {

uint64_t class_min_size(uint32_t index) {
    return index == 0 ? 0 : format::size_class_max(index - 1) + 1;
}

std::vector<ClassLive> live_by_class(const HeapModel& model) {
    std::vector<ClassLive> live(format::kSizeClassCount);
    model.for_each_live_block([&live](uint64_t, const LiveBlock& block) {
        ClassLive& slot = live[format::size_class_index(block.size)];
        slot.count += block.est_blocks;
        slot.bytes += block.est_bytes;
    });
    return live;
}

SizeHistogram make_histogram(const std::vector<format::SizeClassCounts>* totals,
                             const std::vector<ClassLive>& live) {
    SizeHistogram histogram;
    histogram.has_totals = totals != nullptr;
    for (uint32_t i = 0; i < format::kSizeClassCount; ++i) {
        HistogramRow row;
        row.index = i;
        row.min_size = class_min_size(i);
        row.max_size = format::size_class_max(i);
        if (totals != nullptr && i < totals->size()) {
            const format::SizeClassCounts& counts = (*totals)[i];
            row.count = counts.count;
            row.requested_bytes = counts.requested_bytes;
            row.usable_bytes = counts.usable_bytes;
            row.free_count = counts.free_count;
            row.freed_usable_bytes = counts.freed_usable_bytes;
        }
        if (i < live.size()) row.live = live[i];
        if (row.count != 0 || row.live.count != 0 || row.free_count != 0)
            histogram.rows.push_back(row);
    }
    return histogram;
}

uint64_t SizeHistogram::count() const {
    uint64_t sum = 0;
    for (const HistogramRow& row : rows)
        sum += row.count;
    return sum;
}

uint64_t SizeHistogram::requested_bytes() const {
    uint64_t sum = 0;
    for (const HistogramRow& row : rows)
        sum += row.requested_bytes;
    return sum;
}

uint64_t SizeHistogram::usable_bytes() const {
    uint64_t sum = 0;
    for (const HistogramRow& row : rows)
        sum += row.usable_bytes;
    return sum;
}

uint64_t SizeHistogram::live_count() const {
    uint64_t sum = 0;
    for (const HistogramRow& row : rows)
        sum += row.live.count;
    return sum;
}

uint64_t SizeHistogram::live_bytes() const {
    uint64_t sum = 0;
    for (const HistogramRow& row : rows)
        sum += row.live.bytes;
    return sum;
}

} // namespace memtrace::memory
