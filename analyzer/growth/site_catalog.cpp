#include "growth/site_catalog.h"

#include "reports/stack_frames.h"

namespace memtrace::growth {

SiteCatalog::SiteCatalog(const DumpReader& reader)
    : reader_(reader), symbolizer_(reader.modules()),
      key_maker_(reader.process().exe_path, reader.modules()) {
}

size_t SiteCatalog::site_of(uint32_t stack_id) {
    if (const auto known = by_stack_.find(stack_id); known != by_stack_.end()) return known->second;
    std::vector<SymbolizedFrame> frames = reports::symbolize_stack(symbolizer_, reader_, stack_id);
    SiteKeys keys = key_maker_.keys(frames);
    const StackTrace* stack = reader_.find_stack(stack_id);
    const bool truncated = stack != nullptr && stack->truncated;
    auto [entry, inserted] = by_exact_key_.emplace(keys.exact, sites_.size());
    if (inserted) sites_.push_back({std::move(keys), {}, std::move(frames), false});
    CatalogSite& site = sites_[entry->second];
    site.stack_ids.push_back(stack_id);
    site.truncated = site.truncated || truncated;
    by_stack_.emplace(stack_id, entry->second);
    return entry->second;
}

SiteCatalog::KeyedState SiteCatalog::keyed(const HeapState& state) {
    KeyedState keyed;
    std::unordered_map<size_t, size_t> position; // catalog index -> index in keyed.sites
    for (const StackLive& stack : state.stacks) {
        const size_t site = site_of(stack.stack_id);
        auto [entry, inserted] = position.emplace(site, keyed.sites.size());
        if (inserted) {
            keyed.sites.push_back({sites_[site].keys, {}});
            keyed.catalog_index.push_back(site);
            keyed.stack_ids.emplace_back();
        }
        keyed.stack_ids[entry->second].push_back(stack.stack_id);
        LiveFigures& live = keyed.sites[entry->second].live;
        live.bytes += stack.live.bytes;
        live.blocks += stack.live.blocks;
    }
    return keyed;
}

} // namespace memtrace::growth
