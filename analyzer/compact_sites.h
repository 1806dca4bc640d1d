// The site-mode event encoding of compacted dumps (compact_format.h, version 3): Alloc and Free
// records in one time order, each named by its allocation site, never by its block.
//
// An allocation site is (stack id, size, AllocFunction). An Alloc names its site, a Free the
// site of the block it frees, not which block: which block of a site a free released is not
// kept, nor the address of any block that did not survive to the end of the dump (a survivor,
// or a block one replaced, keeps its address: the leak scan names blocks by address). That is
// what brings the compacted dump under heaptrack's trace, which drops the same.
//
// The decoder gives every other block a synthetic address (synthetic_base + a counter, never a
// real one: the writer checks) and frees, for a Free of site X, the newest live synthetic
// block of X. The pairing differs from the run's; every sum does not: per site, per stack and
// in total the live blocks and bytes after each event are exact, and so are the peaks, the
// survivors (addresses and times) and the anomalies the heap model counts (a free of an
// address that is not live decodes to a free of a synthetic address never allocated; an
// allocation at a live address to one at the address of a live block of the replaced block's
// site).
//
// Events section frame content:
//   event_count:varint, kSiteColumnCount column lengths (varint) in SiteColumn order, the tags
//   (one byte per event), then the columns.
// Tag bits:
//   0    1: Free, 0: Alloc
//   1-2  Alloc at a new site: its AllocFunction; else 0
//   3    the thread changes: its index is the next value of the threads column
//   4    Alloc: the site is new (next values of the site stacks and site sizes columns; it gets
//        the next site number); else its number is the next value of the sites column.
//        Free: the address freed was not live (no site)
//   5    Alloc: it replaces a live block, whose site number is the next value of the victims
//        column
//   7    the time changes: the next value of the times column is the increase minus 1
// Values are varints.
//
// Addressed section (after the events section; compact_format.h's Header::addressed): frames
// of entries in the order of their blocks' allocation. The first frame starts with
// synthetic_base:varint; then each frame holds entry_count:varint, entry_count sequence
// deltas (varint, from the previous entry's sequence; the first from 0), then entry_count
// addresses (zigzag varint, from where the previous entry's block ends as glibc lays out
// chunks, EventModel::chunk_end; the first from 0). A block's sequence is its Alloc's position
// among the Allocs.
#pragma once

#include "compact_columns.h"
#include "flat_map.h"
#include "record_decoder.h"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace memtrace {

struct HeapEvent;

namespace compact {

enum SiteColumn : unsigned {
    kSiteThreads,
    kSiteTimes,
    kSiteNumbers,
    kSiteStacks,
    kSiteSizes,
    kSiteVictims,
    kSiteColumnCount
};

class SiteEventEncoder {
public:
    SiteEventEncoder();
    void add(const Record& record, uint32_t thread_index);
    size_t pending_bytes() const;
    bool empty() const {
        return count_ == 0;
    }
    // Appends the frame content of the events added since the last call to `out`.
    void take_frame(std::vector<uint8_t>& out);
    // After the last event: the addressed section's content, cut into pieces of about
    // `frame_target` bytes, each one frame. `scan_listed`: every address the leak scan lists.
    // Throws DumpError when no synthetic base fits (only a crafted dump's addresses can fill
    // every candidate range).
    std::vector<std::vector<uint8_t>> take_addressed(size_t frame_target,
                                                     std::vector<uint64_t> scan_listed);

private:
    struct Site {
        uint32_t stack_id;
        uint32_t function;
        uint64_t size;
        bool operator==(const Site&) const = default;
    };
    struct SiteHash {
        size_t operator()(const Site& site) const;
    };
    struct LiveBlock {
        uint64_t sequence;
        uint32_t site;
    };
    void put(SiteColumn column, uint64_t value);

    std::unordered_map<Site, uint32_t, SiteHash> sites_;
    FlatMap<LiveBlock> live_; // by address
    // Replacing block's sequence -> the replaced block: a survivor's predecessors at its
    // address must keep that address too.
    struct Replaced {
        uint64_t sequence;
        uint64_t address;
        uint32_t site;
    };
    std::unordered_map<uint64_t, Replaced> replaced_;
    std::vector<uint64_t> site_sizes_; // by site number
    uint64_t next_sequence_ = 0;
    uint64_t unknown_frees_ = 0;
    uint64_t time_ns_ = 0;
    uint32_t thread_ = 0;
    uint64_t count_ = 0;
    std::vector<uint8_t> tags_;
    std::array<std::vector<uint8_t>, kSiteColumnCount> columns_;
};

class SiteEventDecoder {
public:
    SiteEventDecoder();
    ~SiteEventDecoder();
    // Reads one frame of the addressed section (all of them, in order, before any event).
    // Returns an empty string, or what is wrong.
    std::string add_addressed(std::span<const uint8_t> content);
    // As EventDecoder (compact_events.h).
    std::string start_frame(std::span<const uint8_t> content);
    std::string decode(HeapEvent* out, size_t room, size_t& decoded, uint64_t& index);
    bool frame_done() const {
        return next_ == count_;
    }
    std::string finish_frame() const;
    // After the last frame: checks that every addressed block was allocated.
    std::string finish() const;

private:
    struct Site {
        uint32_t stack_id;
        uint8_t function;
        uint64_t size;
        std::vector<uint64_t> live; // synthetic numbers of its live blocks, newest last
    };
    struct Addressed {
        uint64_t sequence;
        // 0: synthetic; else 1 + zigzag, from where the previous addressed block ends.
        uint64_t address_delta;
    };

    std::vector<Site> sites_;
    std::vector<Addressed> addressed_; // by sequence
    size_t next_addressed_ = 0;
    uint64_t addressed_end_ = 0; // where the last addressed block allocated ends
    bool have_base_ = false;
    uint64_t synthetic_base_ = 0;
    uint64_t next_synthetic_ = 0;
    uint64_t next_sequence_ = 0;
    uint64_t time_ns_ = 0;
    uint32_t thread_ = 0;
    const uint8_t* tags_ = nullptr;
    uint64_t count_ = 0;
    uint64_t next_ = 0;
    ColumnReader columns_[kSiteColumnCount];
};

} // namespace compact
} // namespace memtrace
