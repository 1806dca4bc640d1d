#include "reports/diff_report.h"

#include "growth/dump_selection.h"
#include "growth/heap_states.h"
#include "growth/site_catalog.h"
#include "growth/site_diff.h"
#include "reports/dump_facts.h"
#include "reports/stack_frames.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <spdlog/fmt/fmt.h>

namespace memtrace::reports {
namespace {

using growth::SiteDelta;

// One dump, read once however many of its states are compared.
struct Dump {
    explicit Dump(const std::string& path) : reader(path), catalog(reader) {
    }
    DumpReader reader;
    growth::SiteCatalog catalog;
};

struct Side {
    growth::DumpSpec spec;
    std::shared_ptr<Dump> dump;
    std::vector<growth::SnapshotListing> listings;
    growth::Moment moment;
    growth::HeapState state;
    growth::SiteCatalog::KeyedState keyed;
};

// Two spellings of one file ("a.mtd", "./a.mtd") are one dump.
bool same_file(const std::string& a, const std::string& b) {
    std::error_code error;
    return a == b || std::filesystem::equivalent(a, b, error);
}

void load(Side& a, Side& b) {
    a.dump = std::make_shared<Dump>(a.spec.path);
    b.dump = same_file(a.spec.path, b.spec.path) ? a.dump : std::make_shared<Dump>(b.spec.path);
    for (Side* side : {&a, &b}) {
        side->listings = growth::snapshot_listings(side->dump->reader);
        side->moment = growth::resolve_snapshot(side->spec, side->listings);
    }
    if (a.dump == b.dump) {
        std::vector<growth::HeapState> states =
            growth::capture_states(a.dump->reader, {a.moment, b.moment});
        a.state = std::move(states[0]);
        b.state = std::move(states[1]);
    } else {
        a.state = std::move(growth::capture_states(a.dump->reader, {a.moment})[0]);
        b.state = std::move(growth::capture_states(b.dump->reader, {b.moment})[0]);
    }
    for (Side* side : {&a, &b})
        side->keyed = side->dump->catalog.keyed(side->state);
}

std::string signed_bytes(int64_t delta) {
    const uint64_t magnitude = delta < 0 ? 0 - static_cast<uint64_t>(delta) : delta;
    const char sign = delta < 0 ? '-' : '+';
    return fmt::format("{}{} bytes ({}{})", sign, magnitude, sign, human_bytes(magnitude));
}

std::string signed_count(int64_t delta, const char* one, const char* many) {
    const uint64_t magnitude = delta < 0 ? 0 - static_cast<uint64_t>(delta) : delta;
    return fmt::format("{}{} {}", delta < 0 ? '-' : '+', magnitude, magnitude == 1 ? one : many);
}

int64_t difference(uint64_t from, uint64_t to) {
    return static_cast<int64_t>(to) - static_cast<int64_t>(from);
}

// The catalog site whose frames show a delta: B's when B has it, else A's.
const growth::CatalogSite& shown_site(const SiteDelta& delta, const Side& a, const Side& b) {
    if (!delta.b_sites.empty()) {
        return b.dump->catalog.sites()[b.keyed.catalog_index[delta.b_sites.front()]];
    }
    return a.dump->catalog.sites()[a.keyed.catalog_index[delta.a_sites.front()]];
}
const Side& shown_side(const SiteDelta& delta, const Side& a, const Side& b) {
    return delta.b_sites.empty() ? a : b;
}

nlohmann::json stack_ids(const std::vector<size_t>& keyed_sites, const Side& side) {
    nlohmann::json ids = nlohmann::json::array();
    for (const size_t i : keyed_sites) {
        for (const uint32_t id : side.keyed.stack_ids[i])
            ids.push_back(id);
    }
    return ids;
}

std::optional<uint64_t> rss_of(const Side& side) {
    if (!side.moment) return std::nullopt;
    return growth::rss_at_snapshot(side.dump->reader, *side.moment);
}

nlohmann::json side_json(const Side& of) {
    const DumpReader& reader = of.dump->reader;
    const growth::DumpSpec& side_spec = of.spec;
    const auto& listings = of.listings;
    const growth::HeapState& state = of.state;
    const std::optional<uint64_t> rss = rss_of(of);
    nlohmann::json snapshot = nullptr;
    if (of.moment) {
        const growth::SnapshotListing& listing = listings[*of.moment];
        snapshot = {{"number", *of.moment + 1},
                    {"label", listing.label},
                    {"trigger", listing.trigger},
                    {"time_s", listing.time_s}};
    }
    nlohmann::json side = nlohmann::json::object();
    side["argument"] = side_spec.argument;
    side["dump"] = side_spec.path;
    side["snapshot"] = std::move(snapshot);
    side["snapshot_count"] = listings.size();
    side["program"] = program_name(reader);
    side["pid"] = reader.header().pid;
    side["complete"] = reader.complete();
    side["sampled"] = reader.sampled();
    side["total_bytes"] = state.total.bytes;
    side["total_blocks"] = state.total.blocks;
    side["rss_bytes"] = rss ? nlohmann::json(*rss) : nlohmann::json(nullptr);
    return side;
}

nlohmann::json to_json(const Side& a, const Side& b, const growth::SiteDiff& diff, size_t shown) {
    nlohmann::json sites = nlohmann::json::array();
    for (size_t i = 0; i < shown; ++i) {
        const SiteDelta& delta = diff.changed[i];
        const growth::CatalogSite& site = shown_site(delta, a, b);
        sites.push_back({
            {"delta_bytes", delta.delta_bytes()},
            {"delta_blocks", delta.delta_blocks()},
            {"a_bytes", delta.a.bytes},
            {"a_blocks", delta.a.blocks},
            {"b_bytes", delta.b.bytes},
            {"b_blocks", delta.b.blocks},
            {"match", growth::site_match_name(delta.match)},
            {"a_stack_ids", stack_ids(delta.a_sites, a)},
            {"b_stack_ids", stack_ids(delta.b_sites, b)},
            {"truncated", site.truncated},
            {"frames", frames_json(site.frames)},
        });
    }
    return {
        {"schema_version", kJsonSchemaVersion},
        {"a", side_json(a)},
        {"b", side_json(b)},
        {"estimated", a.dump->reader.sampled() || b.dump->reader.sampled()},
        {"total_delta_bytes", difference(diff.a_total.bytes, diff.b_total.bytes)},
        {"total_delta_blocks", difference(diff.a_total.blocks, diff.b_total.blocks)},
        {"site_count", diff.changed.size()},
        {"unchanged_sites", diff.unchanged},
        {"sites", std::move(sites)},
    };
}

void write_side_text(std::ostream& out, const char* name, const Side& side) {
    const DumpReader& reader = side.dump->reader;
    out << "  " << name << ": "
        << printable(growth::describe_selection(side.spec, side.moment, side.listings)) << '\n'
        << "     " << printable(program_name(reader)) << " (pid " << reader.header().pid
        << "), live: " << side.state.total.bytes << " bytes ("
        << human_bytes(side.state.total.bytes) << ") in " << side.state.total.blocks
        << (side.state.total.blocks == 1 ? " block" : " blocks");
    if (const std::optional<uint64_t> rss = rss_of(side))
        out << "; RSS " << *rss << " bytes (" << human_bytes(*rss) << ')';
    out << '\n';
}

void write_text(std::ostream& out, const Side& a, const Side& b, const growth::SiteDiff& diff,
                size_t shown) {
    out << "Change of the live heap from A to B:\n";
    write_side_text(out, "A", a);
    write_side_text(out, "B", b);
    if (a.dump->reader.sampled() || b.dump->reader.sampled()) {
        out << "NOTE: a sampled dump: its figures are estimates.\n";
    }
    out << "  Change: " << signed_bytes(difference(diff.a_total.bytes, diff.b_total.bytes)) << ", "
        << signed_count(difference(diff.a_total.blocks, diff.b_total.blocks), "block", "blocks")
        << '\n';

    size_t grew = 0, shrank = 0;
    for (const SiteDelta& delta : diff.changed) {
        grew += delta.delta_bytes() > 0 ? 1 : 0;
        shrank += delta.delta_bytes() < 0 ? 1 : 0;
    }
    for (size_t i = 0; i < shown; ++i) {
        const SiteDelta& delta = diff.changed[i];
        out << '\n'
            << signed_bytes(delta.delta_bytes()) << ", "
            << signed_count(delta.delta_blocks(), "block", "blocks") << ": " << delta.a.bytes
            << " -> " << delta.b.bytes << " bytes, " << delta.a.blocks << " -> " << delta.b.blocks
            << " blocks";
        switch (delta.match) {
        case growth::SiteMatch::Frames:
            break;
        case growth::SiteMatch::Functions:
            out << " (matched by function names; lines differ)";
            break;
        case growth::SiteMatch::OnlyA:
            out << " (only in A)";
            break;
        case growth::SiteMatch::OnlyB:
            out << " (only in B)";
            break;
        }
        out << '\n';
        const growth::CatalogSite& site = shown_site(delta, a, b);
        write_frames_text(out, shown_side(delta, a, b).dump->reader, site.stack_ids.front(),
                          site.frames, "    ");
    }
    if (shown < diff.changed.size()) {
        out << "\n(" << diff.changed.size() - shown
            << " more changed sites not shown; see --top)\n";
    }
    out << '\n'
        << diff.changed.size() << (diff.changed.size() == 1 ? " site" : " sites") << " changed ("
        << grew << " grew, " << shrank << " shrank); " << diff.unchanged << " unchanged.\n";
}

} // namespace

void write_diff_report(const std::string& a_argument, const std::string& b_argument,
                       const DiffReportOptions& options, std::ostream& out) {
    Side a, b;
    a.spec = growth::parse_dump_spec(a_argument);
    b.spec = growth::parse_dump_spec(b_argument);
    load(a, b);
    const growth::SiteDiff diff = growth::diff_sites(a.keyed.sites, b.keyed.sites);
    const size_t shown =
        options.top == 0 ? diff.changed.size() : std::min(options.top, diff.changed.size());
    if (options.json) {
        out << dump_json(to_json(a, b, diff, shown)) << '\n';
    } else {
        write_text(out, a, b, diff, shown);
    }
}

} // namespace memtrace::reports
