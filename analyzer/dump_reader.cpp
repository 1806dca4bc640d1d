#include "dump_reader.h"

#include "chunk_merge.h"
#include "compact_format.h"
#include "compact_reader.h"
#include "event_batch_queue.h"
#include "progress.h"
#include "raw_event_merge.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <exception>
#include <queue>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <thread>
#include <unordered_set>
#include <utility>

namespace memtrace {
namespace {

namespace f = memtrace::format;

constexpr uint64_t kChunkHeaderSize = sizeof(f::ChunkHeader);

std::vector<std::string> split_cmdline(std::string_view cmdline) {
    std::vector<std::string> argv;
    while (!cmdline.empty()) {
        const size_t nul = cmdline.find('\0');
        argv.emplace_back(cmdline.substr(0, nul));
        if (nul == std::string_view::npos) break; // a last argument without its NUL
        cmdline.remove_prefix(nul + 1);
    }
    return argv;
}

} // namespace

DumpReader::DumpReader(std::string path)
    : path_(std::move(path)), file_(std::make_unique<MappedFile>(path_)) {
    const auto bytes = file_->bytes();
    if (bytes.size() >= sizeof(compact::kMagic) &&
        std::memcmp(bytes.data(), compact::kMagic, sizeof(compact::kMagic)) == 0) {
        read_compacted();
        return;
    }
    read_header();
    scan_chunks();
    if (cut_short_) {
        spdlog::warn("{} is cut short ({} bytes; its header says the data reaches byte {}): "
                     "reading the whole records before the cut; the dump is incomplete",
                     path_, file_->size(), header_.data_end);
    }
}

DumpReader::~DumpReader() = default;

void DumpReader::read_compacted() {
    file_.reset(); // read with pread, frame by frame
    compacted_ = std::make_unique<CompactedDump>(path_);
    const compact::Header& header = compacted_->header();
    header_ = header.raw;
    event_count_ = header.event_count;
    thread_count_ = header.thread_count;
    last_record_time_ns_ = header.last_record_time_ns;
    cut_short_ = (header.flags & compact::kFlagCutShort) != 0;
    compacted_->for_each_metadata_record(
        [this](const Record& record, uint32_t thread_index) { collect(record, thread_index); });
    match_module_unloads();
    sort_samples_by_time();
    if (cut_short_) {
        spdlog::warn("{}: the raw dump it was compacted from was cut short; the dump is "
                     "incomplete",
                     path_);
    }
}

void DumpReader::read_header() {
    const auto bytes = file_->bytes();
    const uint64_t size = bytes.size();
    if (size == 0)
        throw DumpError(fmt::format("{}: the file is empty, not a memtrace dump", path_));
    if (size < sizeof(f::kDumpMagic) ||
        std::memcmp(bytes.data(), f::kDumpMagic, sizeof(f::kDumpMagic)) != 0) {
        throw DumpError(fmt::format("{}: not a memtrace dump (no MTDUMP magic at byte 0)", path_));
    }
    uint32_t version = 0;
    if (size >= offsetof(f::FileHeader, format_version) + sizeof(version)) {
        std::memcpy(&version, bytes.data() + offsetof(f::FileHeader, format_version),
                    sizeof(version));
        if (version > f::kFormatVersion) {
            throw DumpError(fmt::format("{}: dump format version {} is newer than this memtrace "
                                        "reads ({})",
                                        path_, version, f::kFormatVersion));
        }
    }
    if (size < sizeof(f::FileHeader)) {
        throw DumpError(fmt::format("{}: damaged header: the file ends at byte {}, inside the "
                                    "{}-byte header",
                                    path_, size, sizeof(f::FileHeader)));
    }
    std::memcpy(&header_, bytes.data(), sizeof(header_));
    const auto damaged = [&](const std::string& what) {
        return DumpError(fmt::format("{}: damaged header: {}", path_, what));
    };
    if (version == 0) throw damaged("format version 0");
    if (header_.endian_tag == __builtin_bswap32(f::kEndianTag)) {
        throw DumpError(fmt::format(
            "{}: the dump was written on a machine of the other byte order; not supported", path_));
    }
    if (header_.endian_tag != f::kEndianTag) {
        throw damaged(fmt::format("endian tag 0x{:08x}, expected 0x{:08x}", header_.endian_tag,
                                  f::kEndianTag));
    }
    if (header_.pointer_size != 8 && header_.pointer_size != 4) {
        throw damaged(fmt::format("pointer size {}", header_.pointer_size));
    }
    if (header_.header_size < sizeof(f::FileHeader) || header_.header_size > f::kMaxChunkSize) {
        throw damaged(fmt::format("header size {}", header_.header_size));
    }
    if (header_.data_end < header_.header_size) {
        throw damaged(fmt::format("data_end {} is before the end of the header ({})",
                                  header_.data_end, header_.header_size));
    }
    if (header_.end_reason > static_cast<uint32_t>(f::EndReason::Exec)) {
        throw damaged(fmt::format("unknown end reason {}", header_.end_reason));
    }
}

namespace {

// A chunk of the first pass: where it is, and what a helper thread found in it.
struct ChunkWalk {
    ChunkSpan span;
    uint64_t chunk_end = 0; // offset + capacity
    uint64_t events = 0;
    uint64_t latest_time_ns = 0;
    // The records that are not events, to decode again in file order: each one's offset and
    // the time its delta counts from.
    std::vector<std::pair<uint64_t, uint64_t>> metadata;
    std::exception_ptr error; // a record that cannot be decoded, after those in `metadata`
};

// Decodes one chunk's records: counts the events, raises *latest_time_ns to the latest record
// time, and calls on_metadata(record, decoder's time before it) for every other record, in
// order. Cuts span.end to where the whole records end.
template <typename OnMetadata>
uint64_t walk_chunk(const uint8_t* file, ChunkSpan& span, const std::string* path,
                    uint64_t* latest_time_ns, OnMetadata&& on_metadata) {
    RecordDecoder decoder(file, span, path);
    Record record;
    uint64_t events = 0;
    for (;;) {
        // Events are most of the records and only counted here: stepped over in bulk.
        events += decoder.skip_events(latest_time_ns);
        const uint64_t time_before = decoder.time_ns();
        if (!decoder.next(record)) break;
        *latest_time_ns = std::max(*latest_time_ns, record.time_ns);
        if (record.kind == f::RecordKind::Alloc || record.kind == f::RecordKind::Free) {
            ++events;
        } else {
            on_metadata(record, time_before);
        }
    }
    // A partial record at the cut is dropped here and in the second pass alike.
    span.end = decoder.position();
    return events;
}

// Below this many chunks the first pass runs on one thread: a second one would not pay for
// itself.
constexpr size_t kChunksForHelper = 16;

// Read pages are given back to the kernel 1 MiB at a time rather than chunk by chunk: with two
// threads running, each release interrupts the other core to flush its TLB. (4 MiB saved no
// more time, and added 8 MiB to the peak RSS of a 100-million-event dump.)
constexpr uint64_t kReleaseBytes = 1u << 20;

// Releases the pages of consecutive chunks once kReleaseBytes of them have been read.
class BatchedRelease {
public:
    explicit BatchedRelease(const MappedFile& file) : file_(file) {
    }
    ~BatchedRelease() {
        flush();
    }
    BatchedRelease(const BatchedRelease&) = delete;
    BatchedRelease& operator=(const BatchedRelease&) = delete;

    void add(uint64_t begin, uint64_t end) {
        if (begin != end_) flush();
        if (begin_ == end_) begin_ = begin;
        end_ = end;
        if (end_ - begin_ >= kReleaseBytes) flush();
    }
    void flush() {
        if (begin_ != end_) file_.release(begin_, end_);
        begin_ = end_;
    }

private:
    const MappedFile& file_;
    uint64_t begin_ = 0;
    uint64_t end_ = 0;
};

} // namespace

void DumpReader::scan_chunks() {
    const uint8_t* file = file_->bytes().data();
    const uint64_t file_size = file_->size();
    const uint64_t data_end = header_.data_end;
    if (data_end > file_size) cut_short_ = true;
    const uint64_t limit = std::min(data_end, file_size);
    last_record_time_ns_ = header_.start_monotonic_ns;

    // Where the chunks are, from their headers alone (read with pread: mapping a page per
    // chunk only to read its header would cost a fault and a release each). A bad header ends
    // the list; it is reported once the chunks before it have been read, as in file order.
    // A deque, not a vector: a vector's last reallocation would free a block of a few MiB,
    // which makes glibc raise its mmap threshold past the size of the replay's event batches,
    // and those then stay in the heap after the replay instead of going back to the kernel
    // (+8 MiB of peak RSS on a 100-million-event dump).
    std::deque<ChunkWalk> chunks;
    std::exception_ptr header_error;
    for (uint64_t offset = header_.header_size; offset < limit;) {
        try {
            if (limit - offset < kChunkHeaderSize) {
                if (cut_short_) break; // the cut is inside this header
                throw DumpError(fmt::format("{}: at byte {}: bad chunk header: it runs past "
                                            "data_end ({})",
                                            path_, offset, data_end));
            }
            f::ChunkHeader header;
            if (!file_->read(offset, &header, sizeof(header))) {
                throw DumpError(
                    fmt::format("{}: cannot read the chunk header at byte {}", path_, offset));
            }
            uint64_t capacity = 0;
            ChunkWalk& chunk = chunks.emplace_back();
            chunk.span = check_chunk(header, file_size, data_end, offset, path_, &capacity);
            if (chunk.span.cut_short) cut_short_ = true;
            chunk.chunk_end = offset + capacity;
            offset = chunk.chunk_end;
        } catch (const DumpError&) {
            header_error = std::current_exception();
            break;
        }
    }

    // Decoding every record is most of the time this takes: the second half of the chunks goes
    // to a helper thread, which keeps what it found per chunk; this thread decodes the first
    // half, then takes the helper's results in file order.
    const size_t split = chunks.size() >= kChunksForHelper ? chunks.size() / 2 : chunks.size();
    std::jthread helper;
    if (split < chunks.size()) {
        helper = std::jthread([&, file](std::stop_token stop) {
            BatchedRelease release(*file_);
            for (size_t i = split; i < chunks.size() && !stop.stop_requested(); ++i) {
                ChunkWalk& chunk = chunks[i];
                chunk.latest_time_ns = 0;
                try {
                    chunk.events = walk_chunk(file, chunk.span, &path_, &chunk.latest_time_ns,
                                              [&chunk](const Record& record, uint64_t time) {
                                                  chunk.metadata.emplace_back(record.offset, time);
                                              });
                } catch (const DumpError&) {
                    chunk.error = std::current_exception();
                    return;
                }
                release.add(chunk.span.header_offset, chunk.chunk_end);
            }
        });
    }

    std::unordered_set<uint32_t> threads;
    const auto account = [&](const ChunkWalk& chunk) {
        event_count_ += chunk.events;
        // Threads that allocated: memtrace's own sampler thread writes snapshots, not events.
        if (chunk.events != 0) {
            event_chunks_.push_back(chunk.span);
            threads.insert(chunk.span.thread_index);
        }
    };
    Progress progress("reading dump", limit);
    BatchedRelease release(*file_);
    for (size_t i = 0; i < split; ++i) {
        ChunkWalk& chunk = chunks[i];
        progress.update(chunk.span.header_offset);
        chunk.events = walk_chunk(
            file, chunk.span, &path_, &last_record_time_ns_,
            [&](const Record& record, uint64_t) { collect(record, chunk.span.thread_index); });
        account(chunk);
        // Read once: its pages need not count in this process's memory any more.
        release.add(chunk.span.header_offset, chunk.chunk_end);
    }
    release.flush();
    if (helper.joinable()) helper.join();
    Record record;
    for (size_t i = split; i < chunks.size(); ++i) {
        ChunkWalk& chunk = chunks[i];
        progress.update(chunk.span.header_offset);
        for (const auto& [offset, time_before] : chunk.metadata) {
            ChunkSpan rest = chunk.span;
            rest.begin = offset;
            rest.base_time_ns = time_before;
            RecordDecoder decoder(file, rest, &path_);
            decoder.next(record); // decoded once already: it is whole and well-formed
            collect(record, chunk.span.thread_index);
        }
        if (!chunk.metadata.empty()) file_->release(chunk.span.header_offset, chunk.chunk_end);
        if (chunk.error) std::rethrow_exception(chunk.error);
        last_record_time_ns_ = std::max(last_record_time_ns_, chunk.latest_time_ns);
        account(chunk);
    }
    if (header_error) std::rethrow_exception(header_error);
    thread_count_ = threads.size();
    match_module_unloads();
    sort_samples_by_time();
}

void DumpReader::sort_samples_by_time() {
    const auto by_time = [](const auto& a, const auto& b) { return a.time_ns < b.time_ns; };
    std::stable_sort(snapshots_.begin(), snapshots_.end(), by_time);
    std::stable_sort(memory_samples_.begin(), memory_samples_.end(), by_time);
    std::stable_sort(malloc_info_samples_.begin(), malloc_info_samples_.end(), by_time);
    std::stable_sort(size_class_samples_.begin(), size_class_samples_.end(), by_time);
    std::stable_sort(memory_map_events_.begin(), memory_map_events_.end(), by_time);
    std::stable_sort(notes_.begin(), notes_.end(), by_time);
}

void DumpReader::match_module_unloads() {
    // Loads and unloads may sit in different threads' chunks, in any file order: match them
    // in time order. An unload ends the latest load of its id still mapped; an unload of an
    // unknown id changes nothing. Indexed by id so that a hostile dump cannot make this
    // quadratic.
    struct Change {
        uint64_t time_ns;
        bool load;
        uint32_t module_id;
        size_t module_index;
    };
    std::vector<Change> changes;
    changes.reserve(modules_.size() + module_unloads_.size());
    for (size_t i = 0; i < modules_.size(); ++i) {
        changes.push_back({modules_[i].load_time_ns, true, modules_[i].id, i});
    }
    for (const ModuleUnload& unload : module_unloads_) {
        changes.push_back({unload.time_ns, false, unload.module_id, 0});
    }
    // At equal times a load comes first: a module unloaded in the same nanosecond was loaded.
    std::stable_sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
        if (a.time_ns != b.time_ns) return a.time_ns < b.time_ns;
        return a.load && !b.load;
    });
    std::unordered_map<uint32_t, std::vector<size_t>> loaded;
    for (const Change& change : changes) {
        if (change.load) {
            loaded[change.module_id].push_back(change.module_index);
            continue;
        }
        const auto open = loaded.find(change.module_id);
        if (open == loaded.end() || open->second.empty()) continue;
        modules_[open->second.back()].unload_time_ns = change.time_ns;
        open->second.pop_back();
    }
    module_unloads_.clear();
    module_unloads_.shrink_to_fit();
}

void DumpReader::collect(const Record& record, uint32_t thread_index) {
    switch (record.kind) {
    case f::RecordKind::Stack: {
        // Dense ids (as the preload hands them out) are also marked in an array, which the
        // check of every Alloc reads instead of the map.
        if (record.stack_id < (1u << 22)) {
            if (record.stack_id >= defined_stacks_.size()) {
                defined_stacks_.resize(record.stack_id + 1 + record.stack_id / 2);
                defined_stacks_[f::kNoStack] = true; // what a free or a stackless alloc names
            }
            defined_stacks_[record.stack_id] = true;
        }
        const auto [it, inserted] = stacks_.try_emplace(record.stack_id);
        if (!inserted) {
            throw DumpError(fmt::format("{}: at byte {}: stack id {} is defined twice (first at "
                                        "byte {})",
                                        path_, record.offset, record.stack_id, it->second.offset));
        }
        it->second.frames = record.frames;
        it->second.truncated = record.truncated;
        it->second.time_ns = record.time_ns;
        it->second.offset = record.offset;
        return;
    }
    case f::RecordKind::ModuleLoad: {
        ModuleInfo module;
        module.id = record.module_id;
        module.path = std::string(record.module_path);
        module.build_id = std::string(record.build_id);
        module.load_bias = record.load_bias;
        module.start = record.start;
        module.end = record.end;
        module.load_time_ns = record.time_ns;
        modules_.push_back(std::move(module));
        return;
    }
    case f::RecordKind::ModuleUnload:
        module_unloads_.push_back({record.time_ns, record.module_id});
        return;
    case f::RecordKind::ProcessInfo:
        if (process_.recorded) return; // one per dump; keep the first
        process_.recorded = true;
        process_.exe_path = std::string(record.exe_path);
        process_.argv = split_cmdline(record.cmdline);
        return;
    case f::RecordKind::Snapshot:
        snapshots_.push_back({record.time_ns, static_cast<f::SnapshotTrigger>(record.trigger),
                              std::string(record.text), thread_index});
        return;
    case f::RecordKind::ProcessMemory:
        memory_samples_.push_back({record.time_ns, record.memory});
        return;
    case f::RecordKind::MallocInfo:
        malloc_info_samples_.push_back({record.time_ns, std::string(record.text)});
        return;
    case f::RecordKind::SizeClassTotals:
        size_class_samples_.push_back({record.time_ns, record.classes});
        return;
    case f::RecordKind::MemoryMap: {
        MemoryMapEvent event;
        event.op = static_cast<f::MemoryMapOp>(record.sub_kind);
        event.time_ns = record.time_ns;
        event.address = record.address;
        event.length = record.size;
        event.new_address = record.new_address;
        event.new_length = record.new_size;
        event.prot = record.prot;
        event.flags = record.flags;
        event.stack_id = record.stack_id;
        event.thread_index = thread_index;
        memory_map_events_.push_back(event);
        return;
    }
    case f::RecordKind::Note:
        notes_.push_back(
            {record.time_ns, static_cast<f::NoteCode>(record.code), std::string(record.text)});
        return;
    case f::RecordKind::LeakScan:
        collect_leak_scan(record);
        return;
    case f::RecordKind::Alloc:
    case f::RecordKind::Free:
        return;
    }
}

void DumpReader::collect_leak_scan(const Record& record) {
    if (record.sub_kind == static_cast<uint8_t>(f::LeakScanPart::Summary)) {
        if (leak_scan_.present) {
            throw DumpError(
                fmt::format("{}: at byte {}: a second leak scan summary", path_, record.offset));
        }
        leak_scan_.present = true;
        leak_scan_.status = record.scan.status;
        leak_scan_.time_ns = record.time_ns;
        leak_scan_.live_blocks = record.scan.live_blocks;
        leak_scan_.definite_blocks = record.scan.definite_blocks;
        leak_scan_.indirect_blocks = record.scan.indirect_blocks;
        leak_scan_.reachable_blocks = record.scan.reachable_blocks;
        leak_scan_.scan_ns = record.scan.scan_ns;
        return;
    }
    // The writer puts the summary first, in the same chunk or an earlier one of the same thread,
    // so in file order blocks never come before it.
    if (!leak_scan_.present) {
        throw DumpError(fmt::format("{}: at byte {}: leak scan blocks without a summary", path_,
                                    record.offset));
    }
    for (const auto& [address, kind] : record.scan_blocks)
        leak_scan_.unreachable[address] = kind;
}

const StackTrace* DumpReader::find_stack(uint32_t stack_id) const {
    const auto it = stacks_.find(stack_id);
    return it == stacks_.end() ? nullptr : &it->second;
}

bool DumpReader::complete() const {
    return header_.clean == 1 && f::is_complete(static_cast<f::EndReason>(header_.end_reason)) &&
           !cut_short_;
}

uint64_t DumpReader::end_time_ns() const {
    return header_.end_monotonic_ns != 0 ? header_.end_monotonic_ns : last_record_time_ns_;
}

DumpError DumpReader::undefined_stack(const HeapEvent& event) const {
    if (compacted_) {
        return DumpError(fmt::format("{}: event {} uses stack id {}, which the dump never defines",
                                     path_, event.offset, event.stack_id));
    }
    return DumpError(fmt::format("{}: at byte {}: alloc record uses stack id {}, which the dump "
                                 "never defines",
                                 path_, event.offset, event.stack_id));
}

size_t DumpReader::first_undefined_stack(std::span<const HeapEvent> events) const {
    // In a dump cut short the definition may have been lost with the end of the file; the
    // reports then show the stack as lost (the cut itself was warned about).
    if (cut_short_) return events.size();
    const size_t dense = defined_stacks_.size();
    for (size_t i = 0; i < events.size(); ++i) {
        // Frees are looked up as "no stack" rather than skipped by a branch: allocs and frees
        // alternate in no order a branch predictor could learn.
        const uint32_t id =
            events[i].type == HeapEvent::Type::Alloc ? events[i].stack_id : f::kNoStack;
        if (id < dense && defined_stacks_[id]) [[likely]]
            continue;
        if (id == f::kNoStack || stacks_.contains(id)) continue;
        return i;
    }
    return events.size();
}

void DumpReader::for_each_event(const std::function<void(const HeapEvent&)>& visit) const {
    for_each_event_batch([&visit](std::span<const HeapEvent> events) {
        for (const HeapEvent& event : events)
            visit(event);
    });
}

void DumpReader::for_each_event_batch(
    const std::function<void(std::span<const HeapEvent>)>& visit) const {
    if (compacted_) {
        Progress progress("reading dump", compacted_->file_size());
        // The stacks are checked by the decoding thread, as for a raw dump below.
        const EventCheck check{
            [this](std::span<const HeapEvent> events) { return first_undefined_stack(events); },
            [this](const HeapEvent& event) { return undefined_stack(event); }};
        compacted_->for_each_event(
            visit, [&](uint64_t done) { progress.update(done); }, check);
        return;
    }
    uint64_t total = 0;
    for (const ChunkSpan& span : event_chunks_)
        total += span.end - span.begin;
    Progress progress("reading dump", total);
    // Merging and decoding the chunks takes about as long as replaying the events: a thread of
    // its own does it, one batch ahead of the caller.
    EventBatchQueue queue;
    std::thread decoding([this, &queue] {
        std::unique_ptr<EventBatch> batch;
        try {
            // Chunks are started when their first event is due and released once read, so that
            // only the chunks being written at the same time are in memory together.
            RawEventMerge merge(*file_, event_chunks_, &path_);
            batch = queue.take_empty();
            while (batch != nullptr && merge.fill(batch->events, EventBatch::kBatchEvents)) {
                // The stacks are checked here rather than by the replay's thread, which has
                // more to do: the events before a bad one go, then the error.
                const size_t bad = first_undefined_stack(batch->events);
                if (bad != batch->events.size()) {
                    const HeapEvent event = batch->events[bad];
                    batch->events.resize(bad);
                    throw undefined_stack(event);
                }
                batch->progress = merge.bytes_done();
                if (batch->events.size() < EventBatch::kBatchEvents) break; // the last events
                queue.put_full(std::move(batch));
                batch = queue.take_empty();
            }
            if (batch != nullptr && !batch->events.empty()) queue.put_full(std::move(batch));
            queue.finish(nullptr);
        } catch (...) {
            // A damaged record: the events before it go first, as one event at a time would.
            if (batch != nullptr && !batch->events.empty()) queue.put_full(std::move(batch));
            queue.finish(std::current_exception());
        }
    });
    try {
        while (auto batch = queue.take_full()) {
            visit(batch->events); // checked by the decoding thread
            progress.update(batch->progress);
            queue.give_back(std::move(batch));
        }
    } catch (...) {
        queue.stop();
        decoding.join();
        throw;
    }
    decoding.join();
    if (const std::exception_ptr error = queue.error()) std::rethrow_exception(error);
}

} // namespace memtrace
