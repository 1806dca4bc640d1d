#include "memory/malloc_info.h"

#include "memory/simple_xml.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace memtrace::memory {
namespace {

[[noreturn]] void fail(const XmlElement& element, const std::string& what) {
    throw MallocInfoError("<" + element.name + "> at byte " + std::to_string(element.offset) +
                          ": " + what);
}

uint64_t number_attribute(const XmlElement& element, std::string_view key) {
    const auto text = element.attribute(key);
    if (!text) fail(element, "no " + std::string(key) + " attribute");
    uint64_t value = 0;
    const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (error != std::errc() || end != text->data() + text->size() || text->empty())
        fail(element, std::string(key) + "=\"" + std::string(*text) + "\" is not a byte count");
    return value;
}

std::string_view type_of(const XmlElement& element) {
    const auto type = element.attribute("type");
    if (!type) fail(element, "no type attribute");
    return *type;
}

// <size from=.. to=.. total=.. count=../> (and <unsorted .../>): free chunks of one bin. A bin
// whose chunks average below a page counts as small.
void read_sizes(const XmlElement& sizes, ArenaUsage& arena) {
    for (const XmlElement& entry : sizes.children) {
        if (entry.name != "size" && entry.name != "unsorted") continue;
        const uint64_t count = number_attribute(entry, "count");
        const uint64_t total = number_attribute(entry, "total");
        if (count == 0 || total / count >= kSmallChunkLimit) continue;
        arena.small_free_chunks += count;
        arena.small_free_bytes += total;
    }
}

ArenaUsage read_heap(const XmlElement& heap) {
    ArenaUsage arena;
    arena.number = static_cast<uint32_t>(number_attribute(heap, "nr"));
    bool saw_system = false;
    for (const XmlElement& child : heap.children) {
        if (child.name == "total") {
            const std::string_view type = type_of(child);
            if (type == "fast") {
                arena.fast_chunks = number_attribute(child, "count");
                arena.fast_bytes = number_attribute(child, "size");
            } else if (type == "rest") {
                arena.rest_chunks = number_attribute(child, "count");
                arena.rest_bytes = number_attribute(child, "size");
            }
        } else if (child.name == "system") {
            const std::string_view type = type_of(child);
            if (type == "current") {
                arena.system_bytes = number_attribute(child, "size");
                saw_system = true;
            } else if (type == "max") {
                arena.max_system_bytes = number_attribute(child, "size");
            }
        } else if (child.name == "aspace") {
            if (type_of(child) == "subheaps") arena.subheaps = number_attribute(child, "size");
        } else if (child.name == "sizes") {
            read_sizes(child, arena);
        }
    }
    if (!saw_system) fail(heap, "no <system type=\"current\"> element");
    // glibc sums binned chunks with chunksize_nomask(), which keeps the PREV_INUSE bit (always
    // set on a binned chunk), but the top chunk (counted once) with chunksize(). Taking one byte
    // per binned chunk off makes the figure equal mallinfo2()'s fordblks.
    const uint64_t binned = arena.rest_chunks > 0 ? arena.rest_chunks - 1 : 0;
    arena.rest_bytes = arena.rest_bytes > binned ? arena.rest_bytes - binned : 0;
    arena.small_free_bytes = std::min(arena.small_free_bytes, arena.free_bytes());
    return arena;
}

} // namespace

uint64_t MallocInfo::system_bytes() const {
    uint64_t sum = 0;
    for (const ArenaUsage& arena : arenas)
        sum += arena.system_bytes;
    return sum;
}

uint64_t MallocInfo::free_bytes() const {
    uint64_t sum = 0;
    for (const ArenaUsage& arena : arenas)
        sum += arena.free_bytes();
    return sum;
}

uint64_t MallocInfo::free_chunks() const {
    uint64_t sum = 0;
    for (const ArenaUsage& arena : arenas)
        sum += arena.free_chunks();
    return sum;
}

uint64_t MallocInfo::in_use_bytes() const {
    uint64_t sum = 0;
    for (const ArenaUsage& arena : arenas)
        sum += arena.in_use_bytes();
    return sum;
}

uint64_t MallocInfo::subheaps() const {
    uint64_t sum = 0;
    for (const ArenaUsage& arena : arenas)
        sum += arena.subheaps;
    return sum;
}

uint64_t MallocInfo::small_free_bytes() const {
    uint64_t sum = 0;
    for (const ArenaUsage& arena : arenas)
        sum += arena.small_free_bytes;
    return sum;
}

uint64_t MallocInfo::small_free_chunks() const {
    uint64_t sum = 0;
    for (const ArenaUsage& arena : arenas)
        sum += arena.small_free_chunks;
    return sum;
}

MallocInfo parse_malloc_info(std::string_view xml) {
    XmlElement root;
    try {
        root = parse_xml(xml);
    } catch (const XmlError& error) {
        throw MallocInfoError(std::string("malformed XML: ") + error.what());
    }
    if (root.name != "malloc") fail(root, "the root element is not <malloc>");
    MallocInfo info;
    for (const XmlElement& child : root.children) {
        if (child.name == "heap") {
            info.arenas.push_back(read_heap(child));
        } else if (child.name == "total" && type_of(child) == "mmap") {
            info.mmapped_chunks = number_attribute(child, "count");
            info.mmapped_bytes = number_attribute(child, "size");
        }
        // The process-wide fast/rest/system totals are sums over the heaps; they are
        // recomputed from the heaps so that both views always agree.
    }
    return info;
}

} // namespace memtrace::memory
