// The allocation sites of one dump: its stacks symbolized (once each) and grouped by exact site
// key (site_key.h), so stacks that name the same frames count as one site.
#pragma once

#include "dump_reader.h"
#include "growth/heap_states.h"
#include "growth/site_diff.h"
#include "growth/site_key.h"
#include "symbolizer.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace memtrace::growth {

struct CatalogSite {
    SiteKeys keys;
    std::vector<uint32_t> stack_ids;     // every stack of the dump that is this site
    std::vector<SymbolizedFrame> frames; // of the first of them
    bool truncated = false;              // some stack of the site was cut at the depth limit
};

class SiteCatalog {
public:
    explicit SiteCatalog(const DumpReader& reader);

    // The site a stack belongs to, its index in sites().
    size_t site_of(uint32_t stack_id);
    const std::vector<CatalogSite>& sites() const {
        return sites_;
    }

    // The state summed per site: one KeyedSite per site with live blocks, and for each the
    // index of its CatalogSite and the stacks that hold its blocks.
    struct KeyedState {
        std::vector<KeyedSite> sites;
        std::vector<size_t> catalog_index;
        std::vector<std::vector<uint32_t>> stack_ids; // the stacks live in this state
    };
    KeyedState keyed(const HeapState& state);

private:
    const DumpReader& reader_;
    Symbolizer symbolizer_;
    SiteKeyMaker key_maker_;
    std::vector<CatalogSite> sites_;
    std::unordered_map<std::string, size_t> by_exact_key_;
    std::unordered_map<uint32_t, size_t> by_stack_;
};

} // namespace memtrace::growth
