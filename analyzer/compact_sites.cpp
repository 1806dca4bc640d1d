#include "compact_sites.h"

#include "compact_events.h"
#include "dump_error.h"
#include "dump_reader.h"
#include "memtrace/varint.h"

#include <algorithm>
#include <spdlog/fmt/fmt.h>

namespace memtrace::compact {
namespace {

namespace f = memtrace::format;

constexpr uint8_t kTagNewSite = 1u << 4;     // Alloc
constexpr uint8_t kTagUnknownFree = 1u << 4; // Free
constexpr uint8_t kTagReplaces = 1u << 5;    // Alloc

} // namespace

// ---------------------------------------------------------------------------------------------
// Encoder

size_t SiteEventEncoder::SiteHash::operator()(const Site& site) const {
    uint64_t h = site.size * 0x9e3779b97f4a7c15ull;
    h ^= (static_cast<uint64_t>(site.stack_id) << 2 | site.function) + (h >> 29);
    return static_cast<size_t>(h * 0xbf58476d1ce4e5b9ull);
}

SiteEventEncoder::SiteEventEncoder() {
    tags_.reserve(1 << 20);
}

size_t SiteEventEncoder::pending_bytes() const {
    size_t bytes = tags_.size();
    for (const auto& column : columns_)
        bytes += column.size();
    return bytes;
}

void SiteEventEncoder::put(SiteColumn column, uint64_t value) {
    append_varint(columns_[column], value);
}

void SiteEventEncoder::add(const Record& record, uint32_t thread_index) {
    ++count_;
    uint8_t tag = 0;
    if (thread_index != thread_) {
        tag |= kTagThread;
        thread_ = thread_index;
        put(kSiteThreads, thread_index);
    }
    if (record.time_ns != time_ns_) {
        tag |= kTagTime;
        put(kSiteTimes, record.time_ns - time_ns_ - 1);
        time_ns_ = record.time_ns;
    }
    if (record.kind == f::RecordKind::Free) {
        tag |= kTagFree;
        const LiveBlock* block = live_.find(record.address);
        if (block == nullptr) {
            tag |= kTagUnknownFree;
            ++unknown_frees_;
        } else {
            put(kSiteNumbers, block->site);
            live_.erase(record.address);
        }
    } else {
        const Site key{record.stack_id, static_cast<uint32_t>(record.sub_kind), record.size};
        const auto [site, is_new] = sites_.try_emplace(key, static_cast<uint32_t>(sites_.size()));
        if (is_new) {
            site_sizes_.push_back(record.size);
            tag |= kTagNewSite | static_cast<uint8_t>((record.sub_kind & 3u) << kTagFunctionShift);
            put(kSiteStacks, record.stack_id);
            put(kSiteSizes, record.size);
        } else {
            put(kSiteNumbers, site->second);
        }
        bool inserted = false;
        LiveBlock& slot = live_.find_or_insert(record.address, inserted);
        if (!inserted) {
            // An allocation at a live address replaces the block there (an anomaly the heap
            // model counts).
            tag |= kTagReplaces;
            put(kSiteVictims, slot.site);
            replaced_[next_sequence_] = {slot.sequence, record.address, slot.site};
        }
        slot = {next_sequence_++, site->second};
    }
    tags_.push_back(tag);
}

void SiteEventEncoder::take_frame(std::vector<uint8_t>& out) {
    write_column_frame(out, count_, tags_, columns_);
    count_ = 0;
}

std::vector<std::vector<uint8_t>>
SiteEventEncoder::take_addressed(size_t frame_target, std::vector<uint64_t> scan_listed) {
    std::sort(scan_listed.begin(), scan_listed.end());
    const auto listed = [&](uint64_t address) {
        return std::binary_search(scan_listed.begin(), scan_listed.end(), address);
    };
    // Every survivor. One the leak scan lists keeps its address, and so does one that replaced
    // a block, with the blocks it replaced (and those they replaced), for the heap model to see
    // the same replacements at the same address.
    struct Entry {
        uint64_t sequence;
        uint64_t address;
        uint64_t size;
        bool keeps_address;
        bool operator<(const Entry& other) const {
            return sequence < other.sequence;
        }
    };
    std::vector<Entry> entries;
    live_.for_each([&](uint64_t address, const LiveBlock& block) {
        auto at = replaced_.find(block.sequence);
        const bool keeps_address = at != replaced_.end() || listed(address);
        entries.push_back({block.sequence, address, site_sizes_[block.site], keeps_address});
        for (; at != replaced_.end(); at = replaced_.find(at->second.sequence)) {
            entries.push_back(
                {at->second.sequence, at->second.address, site_sizes_[at->second.site], true});
        }
    });
    std::sort(entries.begin(), entries.end());

    // Synthetic numbers: one per Alloc and per free of an unknown address, at most.
    const uint64_t needed = next_sequence_ + unknown_frees_;
    // Real addresses a synthetic one must not equal: those kept, and those the scan lists.
    std::vector<uint64_t> addresses = std::move(scan_listed);
    for (const Entry& entry : entries) {
        if (entry.keeps_address) addresses.push_back(entry.address);
    }
    std::sort(addresses.begin(), addresses.end());
    uint64_t base = 0;
    for (uint64_t k = 32; k < 64 && base == 0; ++k) {
        const uint64_t candidate = k << 58;
        if (UINT64_MAX - candidate < needed) continue;
        const auto at = std::lower_bound(addresses.begin(), addresses.end(), candidate);
        if (at == addresses.end() || *at >= candidate + needed) base = candidate;
    }
    if (base == 0) {
        throw DumpError("the dump's live block addresses leave no room for synthetic ones; "
                        "compact it with MEMTRACE_COMPACT_VERSION=2");
    }

    std::vector<std::vector<uint8_t>> frames(1);
    append_varint(frames.back(), base);
    // Entries per frame: about frame_target bytes of them.
    const size_t per_frame = std::max<size_t>(frame_target / 8, 1);
    uint64_t sequence = 0;
    uint64_t end = 0;
    for (size_t first = 0; first < entries.size(); first += per_frame) {
        if (first != 0) frames.emplace_back();
        const size_t last = std::min(entries.size(), first + per_frame);
        std::vector<uint8_t>& out = frames.back();
        append_varint(out, last - first);
        for (size_t i = first; i < last; ++i) {
            append_varint(out, entries[i].sequence - sequence);
            sequence = entries[i].sequence;
        }
        for (size_t i = first; i < last; ++i) {
            if (!entries[i].keeps_address) {
                out.push_back(0);
                continue;
            }
            append_varint(out,
                          f::zigzag_encode(static_cast<int64_t>(entries[i].address - end)) + 1);
            end = EventModel::chunk_end(entries[i].address, entries[i].size);
        }
    }
    return frames;
}

// ---------------------------------------------------------------------------------------------
// Decoder

SiteEventDecoder::SiteEventDecoder() = default;
SiteEventDecoder::~SiteEventDecoder() = default;

std::string SiteEventDecoder::add_addressed(std::span<const uint8_t> content) {
    const uint8_t* cursor = content.data();
    const uint8_t* const end = cursor + content.size();
    if (!have_base_) {
        if (!f::read_varint(&cursor, end, &synthetic_base_)) return "bad synthetic base";
        have_base_ = true;
    }
    uint64_t sequence = addressed_.empty() ? 0 : addressed_.back().sequence;
    uint64_t count = 0;
    if (cursor == end) return {}; // the first frame, with no entries
    if (!f::read_varint(&cursor, end, &count) || count > static_cast<uint64_t>(end - cursor) / 2) {
        return "bad addressed block count";
    }
    const size_t first = addressed_.size();
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t delta = 0;
        if (!f::read_varint(&cursor, end, &delta) || (delta == 0 && !addressed_.empty()) ||
            delta > UINT64_MAX - sequence) {
            return fmt::format("bad addressed block sequence {}", addressed_.size());
        }
        sequence += delta;
        addressed_.push_back({sequence, 0});
    }
    for (uint64_t i = 0; i < count; ++i) {
        if (!f::read_varint(&cursor, end, &addressed_[first + i].address_delta)) {
            return fmt::format("bad addressed block address {}", first + i);
        }
    }
    if (cursor != end) return "bytes after the addressed blocks";
    return {};
}

std::string SiteEventDecoder::start_frame(std::span<const uint8_t> content) {
    if (std::string problem = read_column_frame(content, count_, tags_, columns_);
        !problem.empty()) {
        return problem;
    }
    next_ = 0;
    return {};
}

std::string SiteEventDecoder::finish_frame() const {
    return check_columns_used(columns_);
}

std::string SiteEventDecoder::finish() const {
    if (next_addressed_ != addressed_.size()) {
        return fmt::format("{} addressed blocks were never allocated",
                           addressed_.size() - next_addressed_);
    }
    return {};
}

std::string SiteEventDecoder::decode(HeapEvent* out, size_t room, size_t& decoded,
                                     uint64_t& index) {
    decoded = 0;
    const auto fail = [&](const char* what) { return fmt::format("{} of event {}", what, index); };
    const auto read = [&](SiteColumn column, uint64_t& value) {
        return read_value(columns_[column].cursor, columns_[column].end, value);
    };
    const auto read_site = [&](SiteColumn column, Site*& site) {
        uint64_t number = 0;
        if (!read(column, number) || number >= sites_.size()) return false;
        site = &sites_[number];
        return true;
    };
    const uint64_t stop = std::min<uint64_t>(count_, next_ + room);
    for (; next_ < stop; ++next_, ++index) {
        const uint8_t tag = tags_[next_];
        const bool is_free = (tag & kTagFree) != 0;
        if ((tag & 0x40) != 0 || (is_free && (tag & (kTagFunctionMask | kTagReplaces)) != 0) ||
            (!is_free && (tag & kTagNewSite) == 0 && (tag & kTagFunctionMask) != 0)) {
            return fmt::format("unknown event tag 0x{:02x} of event {}", tag, index);
        }
        uint64_t value = 0;
        if (tag & kTagThread) {
            if (!read(kSiteThreads, value) || value > UINT32_MAX) return fail("bad thread index");
            thread_ = static_cast<uint32_t>(value);
        }
        if (tag & kTagTime) {
            if (!read(kSiteTimes, value)) return fail("bad time");
            time_ns_ += value + 1;
        }
        HeapEvent& event = out[decoded];
        event.thread_index = thread_;
        event.time_ns = time_ns_;
        event.offset = index;
        if (is_free) {
            event.type = HeapEvent::Type::Free;
            event.function = f::AllocFunction::Malloc;
            event.size = 0;
            event.stack_id = f::kNoStack;
            if (tag & kTagUnknownFree) {
                // An address never allocated, as the raw dump's was not live.
                event.address = synthetic_base_ + next_synthetic_++;
            } else {
                Site* site = nullptr;
                if (!read_site(kSiteNumbers, site)) return fail("bad site number");
                if (site->live.empty()) return fail("a free of a site with no live block");
                event.address = synthetic_base_ + site->live.back();
                site->live.pop_back();
            }
        } else {
            event.type = HeapEvent::Type::Alloc;
            Site* site = nullptr;
            if (tag & kTagNewSite) {
                uint64_t stack = 0;
                uint64_t size = 0;
                if (!read(kSiteStacks, stack) || stack > UINT32_MAX || !read(kSiteSizes, size)) {
                    return fail("bad site");
                }
                sites_.push_back(
                    {static_cast<uint32_t>(stack),
                     static_cast<uint8_t>((tag & kTagFunctionMask) >> kTagFunctionShift),
                     size,
                     {}});
                site = &sites_.back();
            } else if (!read_site(kSiteNumbers, site)) {
                return fail("bad site number");
            }
            Site* victim = nullptr;
            if ((tag & kTagReplaces) && !read_site(kSiteVictims, victim)) {
                return fail("bad replaced site number");
            }
            event.function = static_cast<f::AllocFunction>(site->function);
            event.size = site->size;
            event.stack_id = site->stack_id;
            const uint64_t sequence = next_sequence_++;
            if (next_addressed_ < addressed_.size() &&
                addressed_[next_addressed_].sequence == sequence) {
                // A survivor (or a block one replaced): its own address. A block it replaced
                // is addressed as well, so the heap model sees the replacement.
                const uint64_t delta = addressed_[next_addressed_++].address_delta;
                if (delta != 0) {
                    event.address =
                        addressed_end_ + static_cast<uint64_t>(f::zigzag_decode(delta - 1));
                    addressed_end_ = EventModel::chunk_end(event.address, site->size);
                } else if (victim != nullptr) {
                    // The writer keeps the address of a survivor that replaced a block.
                    return fail("a survivor without its address replaced a block");
                } else {
                    // Never freed, so in no site's list: it keeps its own time.
                    event.address = synthetic_base_ + next_synthetic_++;
                }
            } else {
                uint64_t number = 0;
                if (victim != nullptr) {
                    // Takes over a live block of the replaced block's site, at its address.
                    if (victim->live.empty()) return fail("a replaced site with no live block");
                    number = victim->live.back();
                    victim->live.pop_back();
                } else {
                    number = next_synthetic_++;
                }
                site->live.push_back(number);
                event.address = synthetic_base_ + number;
            }
        }
        ++decoded;
    }
    return {};
}

} // namespace memtrace::compact
