#include "reports/arenas_report.h"

#include "memory/anonymous_mappings.h"
#include "memory/checkpoint_replay.h"
#include "memory/memory_samples.h"
#include "memory/python_arenas.h"
#include "reports/dump_facts.h"
#include "reports/stack_frames.h"
#include "symbol_cache.h"
#include "symbolizer.h"

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

namespace memtrace::reports {
namespace {

namespace m = memtrace::memory;

std::string counted(uint64_t n, const char* singular, const char* plural) {
    return fmt::format("{} {}", n, n == 1 ? singular : plural);
}

inline constexpr size_t kSitesShown = 10;
inline constexpr size_t kFramesShown = 12; // per stack, in text; --json has them all

// One row over time: a memory sample, with the live heap and mappings at its moment.
struct TimedSample {
    const m::MemorySample* sample = nullptr;
    uint64_t live_heap_bytes = 0;
    uint64_t anon_mmap_bytes = 0;
};

struct ArenasView {
    std::vector<m::MemorySample> samples;
    std::vector<TimedSample> rows; // samples with process figures or malloc_info
    const m::MemorySample* last_with_arenas = nullptr;
    std::vector<m::MappingSite> sites; // at the end
    uint64_t mapped_bytes = 0;
    uint64_t mapped_regions = 0;
    m::PythonArenas python;
};

ArenasView build(const DumpReader& reader) {
    ArenasView view;
    view.samples = m::pair_samples(reader.memory_samples(), reader.malloc_info_samples(),
                                   reader.size_class_samples());
    std::vector<uint64_t> times;
    for (const m::MemorySample& sample : view.samples) {
        if (!sample.process && !sample.malloc_info && sample.malloc_info_error.empty()) continue;
        view.rows.push_back({&sample, 0, 0});
        times.push_back(sample.time_ns);
        if (sample.malloc_info) view.last_with_arenas = &sample;
        if (!sample.malloc_info_error.empty()) {
            spdlog::warn("{}: the malloc_info sample at {:.3f} s cannot be read: {}", reader.path(),
                         seconds_between(reader.header().start_monotonic_ns, sample.time_ns),
                         sample.malloc_info_error);
        }
    }
    m::replay_with_checkpoints(reader, times, [&view](size_t i, const HeapModel& model) {
        view.rows[i].live_heap_bytes = model.live_bytes();
    });

    m::AnonymousMappings mappings;
    size_t next = 0;
    for (const MemoryMapEvent& event : reader.memory_map_events()) {
        while (next < view.rows.size() && event.time_ns > times[next])
            view.rows[next++].anon_mmap_bytes = mappings.live_bytes();
        mappings.apply(event);
    }
    while (next < view.rows.size())
        view.rows[next++].anon_mmap_bytes = mappings.live_bytes();
    view.sites = mappings.sites();
    view.mapped_bytes = mappings.live_bytes();
    view.mapped_regions = mappings.regions().size();
    view.python = m::find_python_arenas(reader, view.sites);
    return view;
}

bool is_python_site(const ArenasView& view, uint32_t stack_id) {
    for (const uint32_t id : view.python.stack_ids)
        if (id == stack_id) return true;
    return false;
}

double time_s(const DumpReader& reader, uint64_t time_ns) {
    return seconds_between(reader.header().start_monotonic_ns, time_ns);
}

void write_text(std::ostream& out, const DumpReader& reader, const ArenasView& view,
                Symbolizer& symbolizer) {
    out << "Memory of " << printable(program_name(reader)) << " (pid " << reader.header().pid
        << ") over time:\n";
    out << incompleteness_notes(reader);
    if (view.rows.empty()) {
        out << "  (no memory samples: the dump was written by a memtrace without memory "
               "sampling, or the process died before its first snapshot)\n";
    } else {
        out << fmt::format("  {:>9} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} "
                           "{:>10} {:>7} {:>10} {:>10}\n",
                           "time s", "arenas", "system", "in use", "free", "mmapped", "RSS",
                           "RssAnon", "VmSize", "VmHWM", "threads", "live heap", "own mmaps");
        for (const TimedSample& row : view.rows) {
            const m::MemorySample& s = *row.sample;
            const auto mi = [&s](auto get) {
                return s.malloc_info ? human_bytes(get(*s.malloc_info)) : std::string("?");
            };
            const auto pm = [&s](uint64_t format::ProcessMemory::*field) {
                return s.process ? human_bytes((*s.process).*field) : std::string("?");
            };
            out << fmt::format(
                "  {:>9.3f} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7} "
                "{:>10} {:>10}\n",
                time_s(reader, s.time_ns),
                s.malloc_info ? std::to_string(s.malloc_info->arenas.size()) : "?",
                mi([](const m::MallocInfo& i) { return i.system_bytes(); }),
                mi([](const m::MallocInfo& i) { return i.in_use_bytes(); }),
                mi([](const m::MallocInfo& i) { return i.free_bytes(); }),
                mi([](const m::MallocInfo& i) { return i.mmapped_bytes; }),
                pm(&format::ProcessMemory::vm_rss), pm(&format::ProcessMemory::rss_anon),
                pm(&format::ProcessMemory::vm_size), pm(&format::ProcessMemory::vm_hwm),
                s.process ? std::to_string(s.process->threads) : "?",
                human_bytes(row.live_heap_bytes), human_bytes(row.anon_mmap_bytes));
        }
    }
    if (view.last_with_arenas != nullptr) {
        const m::MallocInfo& info = *view.last_with_arenas->malloc_info;
        out << fmt::format("\nmalloc arenas at {:.3f} s: {} (and blocks with mappings of their "
                           "own: {}, {})\n",
                           time_s(reader, view.last_with_arenas->time_ns), info.arenas.size(),
                           info.mmapped_chunks, human_bytes(info.mmapped_bytes));
        out << fmt::format("  {:>5} {:>10} {:>10} {:>10} {:>10} {:>12} {:>10} {:>6}\n", "arena",
                           "system", "max", "in use", "free", "free chunks", "under 4K", "heaps");
        for (const m::ArenaUsage& arena : info.arenas) {
            out << fmt::format(
                "  {:>5} {:>10} {:>10} {:>10} {:>10} {:>12} {:>10} {:>6}\n", arena.number,
                human_bytes(arena.system_bytes), human_bytes(arena.max_system_bytes),
                human_bytes(arena.in_use_bytes()), human_bytes(arena.free_bytes()),
                arena.free_chunks(), human_bytes(arena.small_free_bytes),
                arena.number == 0 ? std::string("-") : std::to_string(arena.subheaps));
        }
    }
    out << fmt::format("\nAnonymous mappings made by the program, still mapped at the end: {} in "
                       "{}\n",
                       human_bytes(view.mapped_bytes),
                       counted(view.mapped_regions, "region", "regions"));
    size_t shown = 0;
    for (const m::MappingSite& site : view.sites) {
        if (site.live_bytes == 0) continue;
        if (shown++ == kSitesShown) {
            out << "  ... (more stacks in --json)\n";
            break;
        }
        out << fmt::format("  {} ({} bytes) in {}, {}{}; stack #{}:\n",
                           human_bytes(site.live_bytes), site.live_bytes,
                           counted(site.live_regions, "region", "regions"),
                           counted(site.maps, "map call", "map calls"),
                           is_python_site(view, site.stack_id) ? ", Python" : "", site.stack_id);
        write_brief_frames(out, reader, symbolizer, site.stack_id, kFramesShown, "     ");
    }
    if (view.python.detected) {
        out << fmt::format("\nPython (pymalloc): arenas of {} bytes, {} mapped by {} so far; {} "
                           "in {} regions still mapped\n",
                           view.python.arena_size, view.python.arenas_mapped,
                           printable(view.python.module), human_bytes(view.python.live_bytes),
                           view.python.live_regions);
    }
}

nlohmann::json process_json(const m::MemorySample& s) {
    if (!s.process) return nullptr;
    const format::ProcessMemory& p = *s.process;
    return {{"vm_rss", p.vm_rss},     {"vm_size", p.vm_size},   {"vm_hwm", p.vm_hwm},
            {"rss_anon", p.rss_anon}, {"rss_file", p.rss_file}, {"threads", p.threads}};
}

nlohmann::json sample_json(const DumpReader& reader, const TimedSample& row) {
    const m::MemorySample& s = *row.sample;
    nlohmann::json sample = {
        {"time_s", time_s(reader, s.time_ns)},
        {"arena_count", nullptr},
        {"arenas", nlohmann::json::array()},
        {"process", process_json(s)},
        {"live_heap_bytes", row.live_heap_bytes},
        {"anon_mmap_bytes", row.anon_mmap_bytes},
        {"malloc_info_error",
         s.malloc_info_error.empty() ? nlohmann::json() : nlohmann::json(s.malloc_info_error)},
    };
    if (!s.malloc_info) return sample;
    const m::MallocInfo& info = *s.malloc_info;
    sample["arena_count"] = info.arenas.size();
    for (const m::ArenaUsage& arena : info.arenas) {
        sample["arenas"].push_back({
            {"number", arena.number},
            {"system_bytes", arena.system_bytes},
            {"max_system_bytes", arena.max_system_bytes},
            {"in_use_bytes", arena.in_use_bytes()},
            {"free_bytes", arena.free_bytes()},
            {"free_chunks", arena.free_chunks()},
            {"fast_free_bytes", arena.fast_bytes},
            {"small_free_bytes", arena.small_free_bytes},
            {"heaps", arena.subheaps},
        });
    }
    sample["system_bytes"] = info.system_bytes();
    sample["in_use_bytes"] = info.in_use_bytes();
    sample["free_bytes"] = info.free_bytes();
    sample["mmapped_chunks"] = info.mmapped_chunks;
    sample["mmapped_bytes"] = info.mmapped_bytes;
    return sample;
}

nlohmann::json to_json(const DumpReader& reader, const ArenasView& view, Symbolizer& symbolizer) {
    nlohmann::json samples = nlohmann::json::array();
    for (const TimedSample& row : view.rows)
        samples.push_back(sample_json(reader, row));
    nlohmann::json sites = nlohmann::json::array();
    for (const m::MappingSite& site : view.sites) {
        if (site.live_bytes == 0) continue;
        nlohmann::json lengths = nlohmann::json::array();
        for (const auto& [length, calls] : site.lengths)
            lengths.push_back({{"length", length}, {"calls", calls}});
        sites.push_back({
            {"stack_id", site.stack_id},
            {"live_bytes", site.live_bytes},
            {"live_regions", site.live_regions},
            {"maps", site.maps},
            {"bytes_mapped", site.bytes_mapped},
            {"lengths", lengths},
            {"python", is_python_site(view, site.stack_id)},
            {"frames", frames_json(symbolize_stack(symbolizer, reader, site.stack_id))},
        });
    }
    const m::PythonArenas& py = view.python;
    return {
        {"schema_version", kJsonSchemaVersion},
        {"program", program_name(reader)},
        {"pid", reader.header().pid},
        {"complete", reader.complete()},
        {"sampled", reader.sampled()},
        {"arena_count", view.last_with_arenas
                            ? nlohmann::json(view.last_with_arenas->malloc_info->arenas.size())
                            : nlohmann::json()},
        {"samples", samples},
        {"mappings",
         {{"live_bytes", view.mapped_bytes},
          {"live_regions", view.mapped_regions},
          {"sites", sites}}},
        {"python",
         {{"detected", py.detected},
          {"module", py.module},
          {"arena_size", py.arena_size},
          {"arenas_mapped", py.arenas_mapped},
          {"live_bytes", py.live_bytes},
          {"live_regions", py.live_regions}}},
    };
}

} // namespace

void write_arenas_report(const std::string& dump_path, const ArenasOptions& options,
                         std::ostream& out) {
    const DumpReader reader(dump_path);
    const ArenasView view = build(reader);
    Symbolizer symbolizer(reader.modules(), SymbolCache::default_dir());
    if (options.json) {
        out << dump_json(to_json(reader, view, symbolizer)) << '\n';
    } else {
        write_text(out, reader, view, symbolizer);
    }
}

} // namespace memtrace::reports
