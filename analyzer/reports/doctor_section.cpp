#include "reports/doctor_section.h"

#include "memory/anonymous_mappings.h"
#include "memory/python_arenas.h"
#include "reports/dump_facts.h"
#include "reports/stack_frames.h"

#include <algorithm>
#include <spdlog/fmt/fmt.h>

namespace memtrace::reports {
namespace {

namespace m = memtrace::memory;

std::string counted(uint64_t n, const char* singular, const char* plural) {
    return fmt::format("{} {}", n, n == 1 ? singular : plural);
}

bool exited_normally(const DumpReader& reader) {
    const auto reason = static_cast<format::EndReason>(reader.header().end_reason);
    return reader.complete() &&
           (reason == format::EndReason::Exit || reason == format::EndReason::QuickExit);
}

// Size-class totals recorded with the sample, or else the last ones before it.
const std::vector<format::SizeClassCounts>* size_classes_for(const DumpReader& reader,
                                                             const m::MemorySample& sample) {
    if (sample.size_classes != nullptr) return &sample.size_classes->classes;
    const std::vector<format::SizeClassCounts>* found = nullptr;
    for (const SizeClassSample& s : reader.size_class_samples())
        if (s.time_ns <= sample.time_ns) found = &s.classes;
    return found;
}

std::string signed_amount(int64_t bytes) {
    const uint64_t magnitude =
        bytes < 0 ? static_cast<uint64_t>(-(bytes + 1)) + 1 : static_cast<uint64_t>(bytes);
    return fmt::format("{}{}", bytes < 0 ? "-" : "", human_bytes(magnitude));
}

// The text shows the first stacks of a finding, and the first frames of each; --json has all.
constexpr size_t kStacksShown = 2;
constexpr size_t kFramesShown = 8;

void row(std::ostream& out, const std::string& label, const std::string& value,
         const std::string& note = "") {
    out << fmt::format("    {:<38} {:>12}", label, value);
    if (!note.empty()) out << "  " << note;
    out << '\n';
}

} // namespace

HeapAtSample capture_heap(const HeapModel& model) {
    HeapAtSample heap;
    heap.by_class = m::live_by_class(model);
    heap.live_bytes = model.live_bytes();
    for (const m::ClassLive& c : heap.by_class)
        heap.live_blocks += c.count;
    return heap;
}

const m::MemorySample* doctor_sample(const std::vector<m::MemorySample>& samples) {
    return m::last_accountable_sample(samples);
}

m::Diagnosis diagnose_dump(const DumpReader& reader, const std::vector<m::MemorySample>& samples,
                           const HeapAtSample& heap) {
    m::DoctorInput input;
    input.sample = doctor_sample(samples);
    input.start_time_ns = reader.header().start_monotonic_ns;
    input.sample_bytes = reader.sample_bytes();
    // The sampler's thread runs when periodic or signal snapshots are on and a second thread of
    // the program had events (docs/design.md, "No thread while the program has one").
    input.sampler_thread =
        (reader.header().snapshot_interval_ms != 0 || reader.header().snapshot_signal != 0) &&
        reader.thread_count() >= 2;
    for (const m::MemorySample& sample : samples)
        if (sample.process)
            input.max_threads = std::max(input.max_threads, sample.process->threads);
    if (input.sample == nullptr) return m::diagnose(input);

    // The sample is the last one; it was taken at exit when the process exited normally and
    // the preload took its exit snapshot.
    input.at_exit = exited_normally(reader) &&
                    std::any_of(reader.snapshots().begin(), reader.snapshots().end(),
                                [](const SnapshotMark& mark) {
                                    return mark.trigger == format::SnapshotTrigger::Exit;
                                });
    input.live_heap_bytes = heap.live_bytes;
    input.live_heap_blocks = heap.live_blocks;
    input.live_by_class = heap.by_class;
    input.size_classes = size_classes_for(reader, *input.sample);

    m::AnonymousMappings mappings;
    for (const MemoryMapEvent& event : reader.memory_map_events())
        if (event.time_ns <= input.sample->time_ns) mappings.apply(event);
    const std::vector<m::MappingSite> sites = mappings.sites();
    input.python = m::find_python_arenas(reader, sites);
    for (const m::MappingSite& site : sites) {
        if (std::find(input.python.stack_ids.begin(), input.python.stack_ids.end(),
                      site.stack_id) != input.python.stack_ids.end())
            continue;
        input.mapping_sites.push_back(site);
    }
    return m::diagnose(input);
}

void write_doctor_text(std::ostream& out, const m::Diagnosis& d, const DumpReader& reader,
                       Symbolizer& symbolizer) {
    out << "\nMemory doctor";
    if (!d.available) {
        out << ": nothing to account for; " << d.unavailable_reason << ".\n";
        return;
    }
    const m::Accounting& a = d.accounting;
    out << " (" << (d.at_exit ? "at exit" : "at the last memory sample") << ", "
        << fmt::format("{:.3f}", seconds_between(reader.header().start_monotonic_ns, d.time_ns))
        << " s after start):\n";
    out << fmt::format("  RSS {} = anonymous {} + file-backed {}; VmSize {}, VmHWM {}; {}\n",
                       human_bytes(a.process.vm_rss), human_bytes(a.process.rss_anon),
                       human_bytes(a.process.rss_file), human_bytes(a.process.vm_size),
                       human_bytes(a.process.vm_hwm),
                       counted(a.process.threads, "thread", "threads") +
                           (d.sampler_thread ? ", one of them memtrace's sampler" : ""));
    out << "  Anonymous memory, accounted for:\n";
    row(out, "live heap (requested bytes)", human_bytes(a.live_heap_bytes),
        fmt::format("{}{}", counted(a.live_heap_blocks, "block", "blocks"),
                    d.sampled ? ", estimated" : ""));
    if (a.has_malloc_info) {
        if (a.internal_waste_bytes)
            row(out, "internal waste (usable - requested)", human_bytes(*a.internal_waste_bytes),
                "estimated per size class");
        row(out, "other allocator overhead", signed_amount(a.other_overhead_bytes),
            "chunk headers, tcache, alignment");
        row(out, "free, kept by malloc arenas", human_bytes(a.arena_free_bytes),
            fmt::format("{}; {} in chunks under a page",
                        counted(a.arena_free_chunks, "chunk", "chunks"),
                        human_bytes(a.small_free_bytes)));
        out << fmt::format("      (malloc: {} with {} from the kernel; blocks with mappings "
                           "of their own: {}, {})\n",
                           counted(a.arena_count, "arena", "arenas"),
                           human_bytes(a.arena_system_bytes), a.mmapped_blocks,
                           human_bytes(a.mmapped_block_bytes));
    } else {
        out << "      (no malloc_info with this sample: allocator overhead and free memory "
               "unknown)\n";
    }
    row(out, "anonymous mmap regions", human_bytes(a.anon_mmap_bytes),
        counted(a.anon_mmap_regions, "region", "regions") + ", mapped size");
    if (a.python_arena_bytes != 0)
        row(out, "mapped by Python (pymalloc)", human_bytes(a.python_arena_bytes), "mapped size");
    row(out, "unexplained", signed_amount(a.unexplained_bytes),
        a.unexplained_bytes < 0 ? "(more mapped than resident: untouched or released pages)" : "");
    if (d.findings.empty()) {
        out << "  Findings: nothing stands out.\n";
        return;
    }
    out << "  Findings:\n";
    size_t number = 1;
    for (const m::Finding& f : d.findings) {
        out << "  " << number++ << ". [" << f.kind << "] " << f.message << '\n';
        for (size_t i = 0; i < f.stacks.size() && i < kStacksShown; ++i) {
            out << "       stack #" << f.stacks[i] << ":\n";
            write_brief_frames(out, reader, symbolizer, f.stacks[i], kFramesShown, "         ");
        }
        if (f.stacks.size() > kStacksShown)
            out << "       (" << f.stacks.size() - kStacksShown << " more stacks in --json)\n";
        if (!f.advice.empty()) out << "     What to do: " << f.advice << '\n';
    }
}

nlohmann::json doctor_json(const m::Diagnosis& d, const DumpReader& reader,
                           Symbolizer& symbolizer) {
    if (!d.available) return {{"available", false}, {"reason", d.unavailable_reason}};
    const m::Accounting& a = d.accounting;
    nlohmann::json findings = nlohmann::json::array();
    for (const m::Finding& f : d.findings) {
        nlohmann::json stacks = nlohmann::json::array();
        for (const uint32_t stack_id : f.stacks)
            stacks.push_back(
                {{"stack_id", stack_id},
                 {"frames", frames_json(symbolize_stack(symbolizer, reader, stack_id))}});
        findings.push_back(
            {{"kind", f.kind},
             {"bytes", f.bytes},
             {"message", f.message},
             {"advice", f.advice.empty() ? nlohmann::json() : nlohmann::json(f.advice)},
             {"stacks", stacks}});
    }
    auto optional = [](const std::optional<uint64_t>& v) {
        return v ? nlohmann::json(*v) : nlohmann::json();
    };
    const bool mi = a.has_malloc_info;
    auto if_mi = [mi](auto value) { return mi ? nlohmann::json(value) : nlohmann::json(); };
    return {
        {"available", true},
        {"at_exit", d.at_exit},
        {"time_s", seconds_between(reader.header().start_monotonic_ns, d.time_ns)},
        {"sampled", d.sampled},
        {"process",
         {{"vm_rss", a.process.vm_rss},
          {"vm_size", a.process.vm_size},
          {"vm_hwm", a.process.vm_hwm},
          {"rss_anon", a.process.rss_anon},
          {"rss_file", a.process.rss_file},
          {"threads", a.process.threads}}},
        {"accounting",
         {{"live_heap_bytes", a.live_heap_bytes},
          {"live_heap_blocks", a.live_heap_blocks},
          {"internal_waste_bytes", optional(a.internal_waste_bytes)},
          {"other_overhead_bytes", if_mi(a.other_overhead_bytes)},
          {"allocator_overhead_bytes", if_mi(a.overhead_bytes)},
          {"heap_in_use_bytes", if_mi(a.heap_in_use_bytes)},
          {"arena_free_bytes", if_mi(a.arena_free_bytes)},
          {"arena_free_chunks", if_mi(a.arena_free_chunks)},
          {"small_free_bytes", if_mi(a.small_free_bytes)},
          {"thread_arena_free_bytes", if_mi(a.thread_arena_free_bytes)},
          {"arena_system_bytes", if_mi(a.arena_system_bytes)},
          {"arena_count", if_mi(a.arena_count)},
          {"thread_heaps", if_mi(a.thread_heaps)},
          {"mmapped_block_bytes", if_mi(a.mmapped_block_bytes)},
          {"mmapped_blocks", if_mi(a.mmapped_blocks)},
          {"anon_mmap_bytes", a.anon_mmap_bytes},
          {"anon_mmap_regions", a.anon_mmap_regions},
          {"python_arena_bytes", a.python_arena_bytes},
          {"unexplained_bytes", a.unexplained_bytes}}},
        {"findings", findings},
    };
}

} // namespace memtrace::reports
