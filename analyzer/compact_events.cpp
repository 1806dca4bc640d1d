#include "compact_events.h"

#include "dump_reader.h"
#include "memtrace/varint.h"

#include <spdlog/fmt/fmt.h>

namespace memtrace::compact {
namespace {

namespace f = memtrace::format;

constexpr uint8_t kTagFree = 1u << 0;
constexpr unsigned kTagFunctionShift = 1;
constexpr uint8_t kTagFunctionMask = 3u << kTagFunctionShift;
constexpr uint8_t kTagThread = 1u << 3;
constexpr unsigned kTagCodeShift = 4;
constexpr uint8_t kTagCodeMask = 7u << kTagCodeShift;
constexpr uint8_t kTagFreeExplicit = 1u << kTagCodeShift;

enum Column : unsigned { kThreads, kTimes, kSizes, kStacks, kAddresses, kFrees };

void put_varint(std::vector<uint8_t>& out, uint64_t value) {
    uint8_t bytes[f::kMaxVarintBytes];
    const uint8_t* end = f::write_varint(bytes, value);
    out.insert(out.end(), static_cast<const uint8_t*>(bytes), end);
}

} // namespace

uint64_t EventModel::reuse_key(uint32_t thread_index, uint64_t size) {
    // glibc's chunk size for a request: header word added, rounded up to 16, at least 32.
    // Larger requests share one list per 4 KiB; the exact rule matters only for how often the
    // model guesses right, never for what is decoded.
    uint64_t chunk = size > UINT64_MAX - 64 ? UINT64_MAX >> 4 : (size + 8 + 15) >> 4;
    if (chunk < 2) chunk = 2;
    if (chunk > 1024) chunk = 1024 + (chunk >> 8);
    return (static_cast<uint64_t>(thread_index) << 32) ^ chunk;
}

void EventModel::switch_thread(uint32_t thread_index) {
    previous_addresses[thread] = previous_address;
    thread = thread_index;
    const uint64_t* known = previous_addresses.find(thread);
    previous_address = known == nullptr ? 0 : *known;
}

void EventModel::remember_free(uint32_t thread_index, const Block& block) {
    ReuseList& list = reuse[reuse_key(thread_index, block.size)];
    if (list.count == kReuseListLength) {
        std::copy(list.addresses.begin() + 1, list.addresses.end(), list.addresses.begin());
        --list.count;
    }
    list.addresses[list.count++] = block.address;
}

EventEncoder::EventEncoder() {
    tags_.reserve(1 << 18);
}

size_t EventEncoder::pending_bytes() const {
    size_t bytes = tags_.size();
    for (const auto& column : columns_)
        bytes += column.size();
    return bytes;
}

void EventEncoder::add(const Record& record, uint32_t thread_index) {
    ++count_;
    uint8_t tag = 0;
    if (thread_index != model_.thread) {
        tag |= kTagThread;
        model_.switch_thread(thread_index);
        put_varint(columns_[kThreads], thread_index);
    }
    put_varint(columns_[kTimes], record.time_ns - model_.time_ns);
    model_.time_ns = record.time_ns;
    const auto explicit_address = [&] {
        put_varint(columns_[kAddresses], f::zigzag_encode(static_cast<int64_t>(
                                             record.address - model_.previous_address)));
    };

    if (record.kind == f::RecordKind::Free) {
        tag |= kTagFree;
        const LiveBlock* block = live_.find(record.address);
        if (block == nullptr) {
            tag |= kTagFreeExplicit;
            explicit_address();
        } else {
            put_varint(columns_[kFrees], model_.next_sequence - block->sequence);
            model_.remember_free(thread_index, {record.address, block->size});
            live_.erase(record.address);
        }
    } else {
        tag |= static_cast<uint8_t>(record.sub_kind << kTagFunctionShift);
        unsigned code = 0;
        if (EventModel::ReuseList* list =
                model_.reuse.find(EventModel::reuse_key(thread_index, record.size))) {
            EventModel::ReuseList& reuse = *list;
            for (unsigned k = 1; k <= reuse.count; ++k) {
                if (reuse.addresses[reuse.count - k] == record.address) {
                    code = k;
                    std::copy(reuse.addresses.begin() + (reuse.count - k + 1),
                              reuse.addresses.begin() + reuse.count,
                              reuse.addresses.begin() + (reuse.count - k));
                    --reuse.count;
                    break;
                }
            }
        }
        if (code == 0) explicit_address();
        tag |= static_cast<uint8_t>(code << kTagCodeShift);
        put_varint(columns_[kSizes], record.size);
        put_varint(columns_[kStacks], record.stack_id);
        // An allocation at a live address replaces the block there (an anomaly the heap model
        // counts); the decoder keeps the old number, which no Free will name.
        live_[record.address] = {model_.next_sequence, record.size};
        ++model_.next_sequence;
    }
    model_.previous_address = record.address;
    tags_.push_back(tag);
}

void EventEncoder::take_frame(std::vector<uint8_t>& out) {
    put_varint(out, count_);
    for (const auto& column : columns_)
        put_varint(out, column.size());
    out.insert(out.end(), tags_.begin(), tags_.end());
    tags_.clear();
    for (auto& column : columns_) {
        out.insert(out.end(), column.begin(), column.end());
        column.clear();
    }
    count_ = 0;
}

namespace {

// One column of a frame, read with bounds checks.
struct ColumnReader {
    const uint8_t* cursor = nullptr;
    const uint8_t* end = nullptr;
    bool varint(uint64_t& value) {
        return f::read_varint(&cursor, end, &value);
    }
};

} // namespace

std::string EventDecoder::decode(const std::vector<uint8_t>& content, uint64_t& index,
                                 const std::function<void(const HeapEvent&)>& visit) {
    ColumnReader head{content.data(), content.data() + content.size()};
    uint64_t count = 0;
    uint64_t lengths[kColumnCount];
    if (!head.varint(count)) return "bad event count";
    for (uint64_t& length : lengths) {
        if (!head.varint(length)) return "bad column length";
    }
    uint64_t remaining = static_cast<uint64_t>(head.end - head.cursor);
    if (count > remaining) return "the tags run past the end of the frame";
    const uint8_t* tags = head.cursor;
    remaining -= count;
    const uint8_t* next = tags + count;
    ColumnReader columns[kColumnCount];
    for (unsigned i = 0; i < kColumnCount; ++i) {
        if (lengths[i] > remaining) return "a column runs past the end of the frame";
        columns[i] = {next, next + lengths[i]};
        next += lengths[i];
        remaining -= lengths[i];
    }
    if (remaining != 0) return "bytes after the last column";

    HeapEvent event;
    const auto fail = [&](const char* what) { return fmt::format("{} of event {}", what, index); };
    for (uint64_t i = 0; i < count; ++i, ++index) {
        const uint8_t tag = tags[i];
        const bool is_free = (tag & kTagFree) != 0;
        const unsigned code = (tag & kTagCodeMask) >> kTagCodeShift;
        if ((tag & 0x80) != 0 || (is_free && ((tag & kTagFunctionMask) != 0 || code > 1)) ||
            code > kReuseListLength) {
            return fmt::format("unknown event tag 0x{:02x} of event {}", tag, index);
        }
        uint64_t value = 0;
        if (tag & kTagThread) {
            if (!columns[kThreads].varint(value) || value > UINT32_MAX) {
                return fail("bad thread index");
            }
            model_.switch_thread(static_cast<uint32_t>(value));
        }
        if (!columns[kTimes].varint(value)) return fail("bad time");
        model_.time_ns += value;
        event.thread_index = model_.thread;
        event.time_ns = model_.time_ns;
        event.offset = index;
        const auto explicit_address = [&] {
            uint64_t delta = 0;
            if (!columns[kAddresses].varint(delta)) return false;
            event.address =
                model_.previous_address + static_cast<uint64_t>(f::zigzag_decode(delta));
            return true;
        };
        if (is_free) {
            event.type = HeapEvent::Type::Free;
            event.function = f::AllocFunction::Malloc;
            event.size = 0;
            event.stack_id = f::kNoStack;
            if (code == 1) {
                if (!explicit_address()) return fail("bad address");
            } else {
                if (!columns[kFrees].varint(value) || value == 0 || value > model_.next_sequence) {
                    return fail("bad block number");
                }
                const uint64_t sequence = model_.next_sequence - value;
                const EventModel::Block* block = live_.find(sequence);
                if (block == nullptr) return fail("a free of a block that is not live");
                event.address = block->address;
                model_.remember_free(model_.thread, *block);
                live_.erase(sequence);
            }
        } else {
            event.type = HeapEvent::Type::Alloc;
            event.function =
                static_cast<f::AllocFunction>((tag & kTagFunctionMask) >> kTagFunctionShift);
            if (!columns[kSizes].varint(event.size)) return fail("bad size");
            if (!columns[kStacks].varint(value) || value > UINT32_MAX) return fail("bad stack id");
            event.stack_id = static_cast<uint32_t>(value);
            if (code == 0) {
                if (!explicit_address()) return fail("bad address");
            } else {
                EventModel::ReuseList* list =
                    model_.reuse.find(EventModel::reuse_key(model_.thread, event.size));
                if (list == nullptr || list->count < code) {
                    return fail("a reused address the decoder does not have");
                }
                EventModel::ReuseList& reuse = *list;
                event.address = reuse.addresses[reuse.count - code];
                std::copy(reuse.addresses.begin() + (reuse.count - code + 1),
                          reuse.addresses.begin() + reuse.count,
                          reuse.addresses.begin() + (reuse.count - code));
                --reuse.count;
            }
            live_[model_.next_sequence++] = {event.address, event.size};
        }
        model_.previous_address = event.address;
        visit(event);
    }
    for (const ColumnReader& column : columns) {
        if (column.cursor != column.end) return "a column holds more values than its events use";
    }
    return {};
}

} // namespace memtrace::compact
