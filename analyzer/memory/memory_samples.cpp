#include "memory/memory_samples.h"

#include <algorithm>

namespace memtrace::memory {
namespace {

enum class Kind { Process, MallocInfo, SizeClasses };

struct Item {
    uint64_t time_ns;
    Kind kind;
    size_t index;
};

} // namespace

std::vector<MemorySample> pair_samples(const std::vector<ProcessMemorySample>& process,
                                       const std::vector<MallocInfoSample>& malloc_info,
                                       const std::vector<SizeClassSample>& size_classes) {
    std::vector<Item> items;
    items.reserve(process.size() + malloc_info.size() + size_classes.size());
    for (size_t i = 0; i < process.size(); ++i)
        items.push_back({process[i].time_ns, Kind::Process, i});
    for (size_t i = 0; i < malloc_info.size(); ++i)
        items.push_back({malloc_info[i].time_ns, Kind::MallocInfo, i});
    for (size_t i = 0; i < size_classes.size(); ++i)
        items.push_back({size_classes[i].time_ns, Kind::SizeClasses, i});
    std::stable_sort(items.begin(), items.end(),
                     [](const Item& a, const Item& b) { return a.time_ns < b.time_ns; });

    std::vector<MemorySample> samples;
    bool has[3] = {false, false, false};
    for (const Item& item : items) {
        const auto slot = static_cast<size_t>(item.kind);
        if (samples.empty() || has[slot]) {
            samples.emplace_back();
            samples.back().time_ns = item.time_ns;
            std::fill(std::begin(has), std::end(has), false);
        }
        has[slot] = true;
        MemorySample& sample = samples.back();
        switch (item.kind) {
        case Kind::Process:
            sample.process = process[item.index].memory;
            break;
        case Kind::MallocInfo:
            try {
                sample.malloc_info = parse_malloc_info(malloc_info[item.index].xml);
            } catch (const MallocInfoError& error) {
                sample.malloc_info_error = error.what();
            }
            break;
        case Kind::SizeClasses:
            sample.size_classes = &size_classes[item.index];
            break;
        }
    }
    return samples;
}

const MemorySample* last_accountable_sample(const std::vector<MemorySample>& samples) {
    for (auto it = samples.rbegin(); it != samples.rend(); ++it)
        if (it->process) return &*it;
    return nullptr;
}

} // namespace memtrace::memory
