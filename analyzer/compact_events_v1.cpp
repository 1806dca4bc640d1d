#include "compact_events_v1.h"

#include "compact_events.h"
#include "dump_reader.h"
#include "memtrace/varint.h"

#include <spdlog/fmt/fmt.h>

namespace memtrace::compact::v1 {
namespace {

namespace f = memtrace::format;

constexpr unsigned kTagCodeShift = 4;
constexpr uint8_t kTagCodeMask = 7u << kTagCodeShift;
constexpr uint8_t kTagFreeExplicit = 1u << kTagCodeShift;

enum Column : unsigned { kThreads, kTimes, kSizes, kStacks, kAddresses, kFrees };
constexpr unsigned kColumnCount = 6;
constexpr unsigned kReuseListLength = 7;

} // namespace

uint64_t EventModel::reuse_key(uint32_t thread_index, uint64_t size) {
    return compact::EventModel::reuse_key(thread_index, size); // version 2 kept the same lists
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
                                 std::vector<HeapEvent>& out) {
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
        out.push_back(event);
    }
    for (const ColumnReader& column : columns) {
        if (column.cursor != column.end) return "a column holds more values than its events use";
    }
    return {};
}

} // namespace memtrace::compact::v1
