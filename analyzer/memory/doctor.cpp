#include "memory/doctor.h"

#include "reports/dump_facts.h"

#include <algorithm>
#include <spdlog/fmt/fmt.h>

namespace memtrace::memory {
namespace {

using reports::human_bytes;

std::string amount(uint64_t bytes) {
    return fmt::format("{} ({} bytes)", human_bytes(bytes), bytes);
}

std::string counted(uint64_t n, const char* singular, const char* plural) {
    return fmt::format("{} {}", n, n == 1 ? singular : plural);
}

std::string threads_text(uint64_t threads, bool sampler) {
    return counted(threads, "thread", "threads") +
           (sampler && threads > 1 ? ", one of them memtrace's sampler" : "");
}

std::string percent_of(uint64_t part, uint64_t whole) {
    if (whole == 0) return "?%";
    return fmt::format("{:.0f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

bool notable(uint64_t bytes, uint64_t whole) {
    return bytes >= kNotableBytes &&
           static_cast<double>(bytes) >= kNotableShare * static_cast<double>(whole);
}

int64_t signed_difference(uint64_t a, uint64_t b) {
    return a >= b ? static_cast<int64_t>(a - b) : -static_cast<int64_t>(b - a);
}

std::string class_name(uint32_t index) {
    return fmt::format("({},{}]", index == 0 ? 0 : format::size_class_max(index - 1),
                       format::size_class_max(index));
}

struct ClassWaste {
    uint32_t index = 0;
    uint64_t waste = 0;
    double requested_average = 0;
    double usable_average = 0;
};

// Live blocks get, per class, the usable/requested ratio measured over all of the class's
// allocations: the dump records requested sizes only.
std::vector<ClassWaste> live_waste_by_class(const DoctorInput& input) {
    std::vector<ClassWaste> classes;
    const auto& totals = *input.size_classes;
    for (uint32_t i = 0; i < totals.size() && i < input.live_by_class.size(); ++i) {
        const format::SizeClassCounts& counts = totals[i];
        const ClassLive& live = input.live_by_class[i];
        if (counts.count == 0 || counts.requested_bytes == 0 || live.bytes == 0) continue;
        if (counts.usable_bytes <= counts.requested_bytes) continue;
        const double ratio = static_cast<double>(counts.usable_bytes - counts.requested_bytes) /
                             static_cast<double>(counts.requested_bytes);
        ClassWaste waste;
        waste.index = i;
        waste.waste = static_cast<uint64_t>(static_cast<double>(live.bytes) * ratio + 0.5);
        waste.requested_average =
            static_cast<double>(counts.requested_bytes) / static_cast<double>(counts.count);
        waste.usable_average =
            static_cast<double>(counts.usable_bytes) / static_cast<double>(counts.count);
        classes.push_back(waste);
    }
    std::sort(classes.begin(), classes.end(), [](const ClassWaste& a, const ClassWaste& b) {
        return a.waste != b.waste ? a.waste > b.waste : a.index < b.index;
    });
    return classes;
}

void account(const DoctorInput& input, Accounting& acc) {
    const MemorySample& sample = *input.sample;
    acc.process = *sample.process;
    acc.live_heap_bytes = input.live_heap_bytes;
    acc.live_heap_blocks = input.live_heap_blocks;
    for (const MappingSite& site : input.mapping_sites) {
        acc.anon_mmap_bytes += site.live_bytes;
        acc.anon_mmap_regions += site.live_regions;
    }
    acc.python_arena_bytes = input.python.live_bytes;

    uint64_t explained = acc.anon_mmap_bytes + acc.python_arena_bytes;
    if (sample.malloc_info) {
        const MallocInfo& info = *sample.malloc_info;
        acc.has_malloc_info = true;
        acc.arena_count = static_cast<uint32_t>(info.arenas.size());
        acc.thread_heaps = info.subheaps();
        acc.arena_system_bytes = info.system_bytes();
        acc.mmapped_block_bytes = info.mmapped_bytes;
        acc.mmapped_blocks = info.mmapped_chunks;
        acc.heap_in_use_bytes = info.in_use_bytes() + info.mmapped_bytes;
        acc.arena_free_bytes = info.free_bytes();
        acc.arena_free_chunks = info.free_chunks();
        acc.small_free_bytes = info.small_free_bytes();
        for (const ArenaUsage& arena : info.arenas)
            if (arena.number != 0) acc.thread_arena_free_bytes += arena.free_bytes();
        acc.overhead_bytes = signed_difference(acc.heap_in_use_bytes, acc.live_heap_bytes);
        explained += acc.arena_system_bytes + acc.mmapped_block_bytes;
    } else {
        explained += acc.live_heap_bytes;
    }
    if (input.size_classes != nullptr) {
        uint64_t waste = 0;
        for (const ClassWaste& c : live_waste_by_class(input))
            waste += c.waste;
        if (acc.has_malloc_info && acc.overhead_bytes >= 0)
            waste = std::min(waste, static_cast<uint64_t>(acc.overhead_bytes));
        acc.internal_waste_bytes = waste;
    }
    if (acc.has_malloc_info) {
        acc.other_overhead_bytes =
            acc.overhead_bytes - static_cast<int64_t>(acc.internal_waste_bytes.value_or(0));
    }
    acc.unexplained_bytes = signed_difference(acc.process.rss_anon, explained);
}

std::string when(const Diagnosis& diagnosis) {
    return diagnosis.at_exit ? "at exit" : "at the last memory sample";
}

void find_free_retained(const Diagnosis& d, std::vector<Finding>& findings) {
    const Accounting& acc = d.accounting;
    if (!acc.has_malloc_info || !notable(acc.arena_free_bytes, acc.process.vm_rss)) return;
    Finding f;
    f.kind = "free_retained";
    f.bytes = acc.arena_free_bytes;
    f.message = fmt::format(
        "glibc's arenas keep {} of freed memory {}, {} of RSS, in {}; {} of it is in "
        "chunks smaller than a page.",
        amount(acc.arena_free_bytes), when(d), percent_of(acc.arena_free_bytes, acc.process.vm_rss),
        counted(acc.arena_free_chunks, "free chunk", "free chunks"), amount(acc.small_free_bytes));
    const uint64_t trimmable = acc.arena_free_bytes - acc.small_free_bytes;
    if (acc.small_free_bytes * 2 >= acc.arena_free_bytes) {
        f.advice = "Most of it is fragmentation: small free chunks between live blocks, which "
                   "neither malloc_trim() nor the kernel can take back (memory returns in whole "
                   "pages). Allocate long-lived and short-lived blocks apart (separate pools, or "
                   "free a whole group together), so that freed memory forms whole pages.";
    } else {
        f.advice = fmt::format(
            "Calling malloc_trim(0) after a phase that frees a lot returns the whole pages "
            "inside free chunks to the kernel: up to {} here. Lowering MALLOC_TRIM_THRESHOLD_ "
            "makes glibc give back the top of the heap sooner on its own.",
            amount(trimmable));
    }
    findings.push_back(std::move(f));
}

void find_waste_and_overhead(const DoctorInput& input, const Diagnosis& d,
                             std::vector<Finding>& findings) {
    const Accounting& acc = d.accounting;
    if (acc.internal_waste_bytes && *acc.internal_waste_bytes >= kNotableBytes &&
        static_cast<double>(*acc.internal_waste_bytes) >=
            kNotableShare * static_cast<double>(acc.live_heap_bytes)) {
        const std::vector<ClassWaste> classes = live_waste_by_class(input);
        Finding f;
        f.kind = "internal_waste";
        f.bytes = *acc.internal_waste_bytes;
        std::string worst;
        for (size_t i = 0; i < classes.size() && i < 3; ++i) {
            const ClassWaste& c = classes[i];
            worst += fmt::format("{}class {}: {} (requests average {:.0f} bytes, get {:.0f})",
                                 i == 0 ? "" : "; ", class_name(c.index), human_bytes(c.waste),
                                 c.requested_average, c.usable_average);
        }
        f.message = fmt::format("Live blocks hold about {} more than was requested ({} of the "
                                "live heap), estimated per size class. Most: {}.",
                                amount(*acc.internal_waste_bytes),
                                percent_of(*acc.internal_waste_bytes, acc.live_heap_bytes), worst);
        f.advice = "glibc rounds every request up to a 16-byte step (at least 24 usable bytes); "
                   "sizes just above a step waste the most. Size the most frequent structures to "
                   "their usable size, or pack many small objects into one array.";
        findings.push_back(std::move(f));
    }
    if (acc.has_malloc_info && acc.other_overhead_bytes > 0 &&
        notable(static_cast<uint64_t>(acc.other_overhead_bytes), acc.process.vm_rss)) {
        Finding f;
        f.kind = "allocator_overhead";
        f.bytes = static_cast<uint64_t>(acc.other_overhead_bytes);
        f.message = fmt::format(
            "glibc counts {} as in use beyond the live blocks' usable bytes: chunk headers (8 "
            "bytes for each of {} live blocks, {}), blocks cached by the threads' tcaches, "
            "alignment, and blocks allocated before tracing began.",
            amount(f.bytes), acc.live_heap_blocks, human_bytes(8 * acc.live_heap_blocks));
        if (8 * acc.live_heap_blocks * 2 >= f.bytes) {
            f.advice = "Most of it is per-block headers of many small blocks: allocating such "
                       "objects in arrays or pools saves the header of each.";
        }
        findings.push_back(std::move(f));
    }
}

void find_arenas(const DoctorInput& input, const Diagnosis& d, std::vector<Finding>& findings) {
    const Accounting& acc = d.accounting;
    if (!acc.has_malloc_info || acc.arena_count <= 1) return;
    Finding f;
    f.kind = "arenas";
    f.bytes = acc.thread_heaps * kThreadHeapReserve;
    f.message = fmt::format(
        "{} malloc arenas (the main one and {} in {}) for {} {} ({} "
        "at most in any sample). Each thread-arena heap reserves 64 MiB of address space: {} "
        "of VmSize ({}), which is not resident memory. The thread arenas keep {} free.",
        acc.arena_count, counted(acc.arena_count - 1, "thread arena", "thread arenas"),
        counted(acc.thread_heaps, "heap", "heaps"),
        threads_text(acc.process.threads, d.sampler_thread), when(d),
        std::max(input.max_threads, acc.process.threads), amount(f.bytes),
        human_bytes(acc.process.vm_size), amount(acc.thread_arena_free_bytes));
    if (acc.arena_count > 2 && notable(acc.thread_arena_free_bytes, acc.process.vm_rss)) {
        f.advice = fmt::format(
            "Free memory is stranded in the thread arenas ({} of RSS): setting MALLOC_ARENA_MAX "
            "to 2 (or a few) makes threads share arenas and reuse each other's freed memory, at "
            "the cost of more lock contention between threads that allocate a lot; measure both.",
            percent_of(acc.thread_arena_free_bytes, acc.process.vm_rss));
    }
    findings.push_back(std::move(f));
}

void find_mappings(const DoctorInput& input, const Diagnosis& d, std::vector<Finding>& findings) {
    const Accounting& acc = d.accounting;
    if (acc.anon_mmap_bytes == 0) return;
    Finding f;
    f.kind = "mmap";
    f.bytes = acc.anon_mmap_bytes;
    size_t stacks = 0;
    for (const MappingSite& site : input.mapping_sites) {
        if (site.live_bytes == 0) continue;
        ++stacks;
        if (f.stacks.size() < kMappingSitesShown) f.stacks.push_back(site.stack_id);
    }
    f.message = fmt::format("{} in {} that the program mapped itself (outside malloc) {} mapped "
                            "{}, from {}. This is mapped size: only the pages written to count in "
                            "RSS.",
                            amount(acc.anon_mmap_bytes),
                            counted(acc.anon_mmap_regions, "anonymous region", "anonymous regions"),
                            acc.anon_mmap_regions == 1 ? "is" : "are",
                            d.at_exit ? "at exit" : "at the last memory sample",
                            counted(stacks, "stack", "stacks"));
    if (d.at_exit) {
        f.advice = "These were never unmapped: munmap() each region when its contents are no "
                   "longer needed.";
    }
    findings.push_back(std::move(f));
}

void find_pymalloc(const DoctorInput& input, std::vector<Finding>& findings) {
    const PythonArenas& python = input.python;
    if (!python.detected) return;
    Finding f;
    f.kind = "pymalloc";
    f.bytes = python.live_bytes;
    f.stacks = python.stack_ids;
    if (f.stacks.size() > kMappingSitesShown) f.stacks.resize(kMappingSitesShown);
    f.message = fmt::format(
        "CPython's pymalloc has {} mapped in {} (arenas of {} bytes as measured: {} "
        "mapped from {} so far). Python objects of up to 512 bytes live inside these arenas and "
        "never reach malloc, so the live heap and the size-class histogram leave them out.",
        amount(python.live_bytes), counted(python.live_regions, "region", "regions"),
        python.arena_size, python.arenas_mapped, python.module);
    f.advice = "Run the program with `memtrace run --python-malloc -- ...` (PYTHONMALLOC=malloc): "
               "CPython then allocates every object with malloc, so each is traced with its size "
               "class and stack. It runs slower, and RSS differs from a pymalloc run.";
    findings.push_back(std::move(f));
}

void find_unexplained(const Diagnosis& d, std::vector<Finding>& findings) {
    const Accounting& acc = d.accounting;
    if (acc.unexplained_bytes <= 0) return;
    const auto bytes = static_cast<uint64_t>(acc.unexplained_bytes);
    if (!notable(bytes, acc.process.vm_rss)) return;
    Finding f;
    f.kind = "unexplained";
    f.bytes = bytes;
    f.message = fmt::format(
        "{} of anonymous RSS ({} of RSS) is neither the malloc heap nor a region the program "
        "mapped through mmap(): candidates are static data (.bss, written .data pages), thread "
        "stacks ({}), memory mapped inside libraries without calling mmap() through its "
        "symbol, and memtrace's own tables.",
        amount(bytes), percent_of(bytes, acc.process.vm_rss),
        threads_text(acc.process.threads, d.sampler_thread));
    f.advice = "Look at the Anonymous lines of /proc/<pid>/smaps of a running instance to see "
               "which mappings hold it.";
    findings.push_back(std::move(f));
}

} // namespace

Diagnosis diagnose(const DoctorInput& input) {
    Diagnosis d;
    d.sampled = input.sample_bytes != 0;
    d.sampler_thread = input.sampler_thread;
    if (input.sample == nullptr || !input.sample->process) {
        d.unavailable_reason =
            "the dump has no process-memory sample: it was written by a memtrace without "
            "memory sampling, or the process died before its first snapshot";
        return d;
    }
    d.available = true;
    d.time_ns = input.sample->time_ns;
    d.at_exit = input.at_exit;
    account(input, d.accounting);

    if (d.sampled) {
        Finding f;
        f.kind = "sampled";
        f.message = fmt::format("This dump is sampled (about one allocation recorded per {} "
                                "bytes): the live heap and the per-class live figures are "
                                "estimates.",
                                input.sample_bytes);
        d.findings.push_back(std::move(f));
    }
    if (!d.accounting.has_malloc_info) {
        Finding f;
        f.kind = "malloc_info_missing";
        f.message = input.sample->malloc_info_error.empty()
                        ? "glibc's malloc_info() was not recorded with this sample (another "
                          "allocator, or an old memtrace): arena figures are unknown."
                        : "glibc's malloc_info() output could not be read: " +
                              input.sample->malloc_info_error;
        d.findings.push_back(std::move(f));
    }
    find_free_retained(d, d.findings);
    find_waste_and_overhead(input, d, d.findings);
    find_arenas(input, d, d.findings);
    find_mappings(input, d, d.findings);
    find_pymalloc(input, d.findings);
    find_unexplained(d, d.findings);
    return d;
}

} // namespace memtrace::memory
