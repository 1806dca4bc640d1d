#include "reachability.h"

#include <algorithm>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

namespace memtrace::preload {
namespace {

constexpr size_t kBufferSize = 1 << 20;
// mincore() is asked about this many pages at a time (256 MiB of 4 KiB pages).
constexpr size_t kResidencyPages = 1 << 16;
// Blocks taken off the work list at a time, and at most this many iovecs (spans of neighbouring
// blocks) per process_vm_readv call (IOV_MAX is 1024).
constexpr size_t kBatchBlocks = 4096;
constexpr size_t kMaxSpans = 1024;
// Rounds of at most this many blocks (following a linked list) read through a window of
// kWindowSize bytes around the block, kept for the next rounds: a list allocated in order is
// then read with one call per window rather than one per node.
constexpr size_t kFewBlocks = 8;
constexpr size_t kWindowSize = 64 * 1024;
// Blocks closer than this are read as one span, the gap included.
constexpr uintptr_t kSpanGap = 4096;
// Larger blocks are scanned like root ranges, with mincore.
constexpr size_t kLargeBlock = 256 * 1024;

// Bytes read from the own process at `address`; fewer than asked (a prefix) when a page
// cannot be read, 0 when the first one cannot.
size_t read_own_memory(uintptr_t address, uint8_t* out, size_t bytes) {
    iovec local{out, bytes};
    iovec remote{reinterpret_cast<void*>(address), bytes};
    const ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    return n > 0 ? static_cast<size_t>(n) : 0;
}

// Where glibc puts the header of the chunk after a block of `size` bytes, counted from the
// block: the chunk is size + 8 rounded up to 16 (at least 32), and the block starts 16 bytes in.
uint64_t glibc_next_chunk_offset(uint64_t size) {
    uint64_t chunk = (size + 8 + 15) & ~uint64_t{15};
    if (chunk < 32) chunk = 32;
    return chunk - 16;
}

uint64_t block_extent(const LiveBlock& block) {
    return block.size ? block.size : 1; // a malloc(0) block is found by its own address
}

} // namespace

bool Reachability::init() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    state_ = static_cast<BlockState*>(arena_.allocate(count_ + 1));
    covered_ = static_cast<uint8_t*>(arena_.allocate(count_ + 1));
    work_ = static_cast<uint32_t*>(arena_.allocate((count_ + 1) * sizeof(uint32_t)));
    buffer_ = static_cast<uint8_t*>(arena_.allocate(kBufferSize));
    residency_ = static_cast<unsigned char*>(arena_.allocate(kResidencyPages));
    window_ = static_cast<uint8_t*>(arena_.allocate(kWindowSize));
    if (!state_ || !covered_ || !work_ || !window_ || !buffer_ || !residency_) return false;
    if (count_) {
        lowest_ = blocks_[0].address;
        for (size_t i = 0; i < count_; ++i) {
            const uintptr_t end = blocks_[i].address + block_extent(blocks_[i]);
            if (end > highest_) highest_ = end;
        }
    }
    return true;
}

size_t Reachability::find(uintptr_t address) const {
    // The last block starting at or below address.
    size_t low = 0, high = count_;
    while (low < high) {
        const size_t mid = low + (high - low) / 2;
        if (blocks_[mid].address <= address)
            low = mid + 1;
        else
            high = mid;
    }
    if (low == 0) return SIZE_MAX;
    const LiveBlock& block = blocks_[low - 1];
    const uint64_t offset = address - block.address;
    if (offset >= block_extent(block)) return SIZE_MAX;
    // glibc malloc's pointers to a chunk (the arena's top, bins, free chunks' links) point at
    // the chunk header, whose first word overlaps the last 8 bytes of the block in front: that
    // one interior address is taken as allocator metadata, not as a pointer to the block.
    if (offset != 0 && offset == glibc_next_chunk_offset(block.size)) return SIZE_MAX;
    return low - 1;
}

void Reachability::visit(size_t block) {
    BlockState& s = state_[block];
    switch (mode_) {
    case Mode::Reach:
        if (s != BlockState::Unreached) return;
        s = BlockState::Reachable;
        work_[work_size_++] = static_cast<uint32_t>(block);
        return;
    case Mode::Incoming:
        if (s == BlockState::Unreached && block != source_) s = BlockState::Indirect;
        return;
    case Mode::Cover:
        if (s == BlockState::Reachable || s == BlockState::Gone) return;
        if (s == BlockState::Definite && block != leader_ && block != source_)
            s = BlockState::Indirect;
        if (covered_[block]) return;
        covered_[block] = 1;
        work_[work_size_++] = static_cast<uint32_t>(block);
        return;
    }
}

void Reachability::scan_words(const uint8_t* data, size_t bytes) {
    const uintptr_t span = highest_ - lowest_;
    for (size_t i = 0; i + sizeof(uintptr_t) <= bytes; i += sizeof(uintptr_t)) {
        uintptr_t word;
        __builtin_memcpy(&word, data + i, sizeof(word));
        if (word - lowest_ >= span) continue;
        const size_t block = find(word);
        if (block != SIZE_MAX) visit(block);
    }
}

void Reachability::scan_root_words(const uintptr_t* words, size_t count) {
    mode_ = Mode::Reach;
    scan_words(reinterpret_cast<const uint8_t*>(words), count * sizeof(uintptr_t));
}

void Reachability::read_and_scan(uintptr_t begin, uintptr_t end) {
    while (begin < end) {
        const size_t want = end - begin < kBufferSize ? end - begin : kBufferSize;
        const size_t got = read_own_memory(begin, buffer_, want);
        bytes_read_ += got;
        scan_words(buffer_, got);
        if (got == want) {
            begin += want;
        } else { // the page at begin + got cannot be read: go on with the next one
            begin = ((begin + got) & ~(uintptr_t{page_} - 1)) + page_;
        }
    }
}

void Reachability::scan_resident(uintptr_t begin, uintptr_t end) {
    begin = (begin + sizeof(uintptr_t) - 1) & ~(uintptr_t{sizeof(uintptr_t)} - 1);
    end &= ~(uintptr_t{sizeof(uintptr_t)} - 1);
    const uintptr_t page_mask = ~(uintptr_t{page_} - 1);
    uintptr_t page = begin & page_mask;
    while (page < end) {
        const uintptr_t pages_left = (end - page + page_ - 1) / page_;
        const size_t pages = pages_left < kResidencyPages ? pages_left : kResidencyPages;
        const uintptr_t piece_end = page + pages * page_;
        if (mincore(reinterpret_cast<void*>(page), pages * page_, residency_) != 0) {
            // Not all mapped (any more): let the reads find out page by page.
            read_and_scan(begin > page ? begin : page, piece_end < end ? piece_end : end);
        } else {
            for (size_t i = 0; i < pages;) {
                if (!(residency_[i] & 1)) {
                    ++i;
                    continue;
                }
                size_t j = i;
                while (j < pages && (residency_[j] & 1))
                    ++j;
                uintptr_t run_begin = page + i * page_;
                uintptr_t run_end = page + j * page_;
                if (run_begin < begin) run_begin = begin;
                if (run_end > end) run_end = end;
                read_and_scan(run_begin, run_end);
                i = j;
            }
        }
        page = piece_end;
    }
}

void Reachability::scan_root_range(uintptr_t begin, uintptr_t end) {
    mode_ = Mode::Reach;
    scan_resident(begin, end);
    drain();
}

void Reachability::scan_small_block(uint32_t index) {
    const LiveBlock& b = blocks_[index];
    source_ = index;
    const bool inside = b.address >= window_begin_ && b.address + b.size <= window_end_;
    if (!inside) {
        // Read the window around the block (from its page, if the pages before cannot be read).
        const uintptr_t page = b.address & ~(uintptr_t{page_} - 1);
        const uintptr_t starts[2] = {page > kWindowSize / 2 ? page - kWindowSize / 2 : page, page};
        window_begin_ = window_end_ = 0;
        for (uintptr_t start : starts) {
            const size_t got = read_own_memory(start, window_, kWindowSize);
            if (got && b.address >= start && b.address + b.size <= start + got) {
                window_begin_ = start;
                window_end_ = start + got;
                bytes_read_ += got;
                break;
            }
        }
        if (window_end_ == 0) {
            read_and_scan(b.address, b.address + b.size);
            return;
        }
    }
    scan_words(window_ + (b.address - window_begin_), b.size);
}

template <typename BlockAt, typename OnBlock>
size_t Reachability::read_in_spans(size_t n, BlockAt&& at, OnBlock&& on_block) {
    // Neighbours are merged into spans, read with one iovec each (process_vm_readv's cost is per
    // iovec and page); the gaps between them are read but not scanned.
    iovec spans[kMaxSpans];
    size_t span_count = 0, total = 0, used = 0;
    uintptr_t span_end = 0;
    for (; used < n; ++used) {
        const LiveBlock& b = at(used);
        const uintptr_t end = b.address + b.size;
        if (span_count && b.address <= span_end + kSpanGap) {
            const uintptr_t grown = end > span_end ? end - span_end : 0;
            if (total + grown > kBufferSize) break;
            total += grown;
            span_end += grown;
            spans[span_count - 1].iov_len += grown;
        } else {
            if (span_count == kMaxSpans || total + b.size > kBufferSize) break;
            spans[span_count++] = iovec{reinterpret_cast<void*>(b.address), b.size};
            span_end = end;
            total += b.size;
        }
    }
    iovec local{buffer_, total};
    const ssize_t got = total ? process_vm_readv(getpid(), &local, 1, spans, span_count, 0) : 0;
    if (got != static_cast<ssize_t>(total)) {
        // Something could not be read (a block freed and unmapped meanwhile): one by one.
        for (size_t i = 0; i < used; ++i)
            on_block(i, nullptr, at(i).size);
        return used;
    }
    bytes_read_ += total;
    // Scanning may queue blocks, but the buffer is not read again before this round is done.
    size_t span = 0, span_offset = 0;
    for (size_t i = 0; i < used; ++i) {
        const LiveBlock& b = at(i);
        while (b.address + b.size >
               reinterpret_cast<uintptr_t>(spans[span].iov_base) + spans[span].iov_len) {
            span_offset += spans[span].iov_len;
            ++span;
        }
        on_block(i,
                 buffer_ + span_offset +
                     (b.address - reinterpret_cast<uintptr_t>(spans[span].iov_base)),
                 b.size);
    }
    return used;
}

void Reachability::scan_root_blocks(LiveBlock* blocks, size_t count) {
    mode_ = Mode::Reach;
    std::sort(blocks, blocks + count,
              [](const LiveBlock& a, const LiveBlock& b) { return a.address < b.address; });
    size_t done = 0;
    while (done < count) {
        if (blocks[done].size >= kLargeBlock) {
            scan_resident(blocks[done].address, blocks[done].address + blocks[done].size);
            ++done;
            continue;
        }
        size_t n = 0;
        while (done + n < count && n < kBatchBlocks && blocks[done + n].size < kLargeBlock)
            ++n;
        done += read_in_spans(
            n, [&](size_t i) -> const LiveBlock& { return blocks[done + i]; },
            [&](size_t i, const uint8_t* data, size_t bytes) {
                if (data)
                    scan_words(data, bytes);
                else
                    read_and_scan(blocks[done + i].address, blocks[done + i].address + bytes);
            });
    }
    drain();
}

void Reachability::drain() {
    uint32_t batch[kBatchBlocks];
    while (work_size_) {
        const uint32_t top = work_[work_size_ - 1];
        if (blocks_[top].size >= kLargeBlock) {
            // Alone, through the residency check: a huge calloc'd block may be mostly untouched.
            --work_size_;
            source_ = top;
            scan_resident(blocks_[top].address, blocks_[top].address + blocks_[top].size);
            continue;
        }
        size_t n = 0;
        while (work_size_ && n < kBatchBlocks && blocks_[work_[work_size_ - 1]].size < kLargeBlock)
            batch[n++] = work_[--work_size_];
        if (n <= kFewBlocks) {
            // A list being followed: one block at a time, through the window.
            for (size_t i = 0; i < n; ++i)
                scan_small_block(batch[i]);
            continue;
        }
        // Blocks are sorted by address, so index order is address order.
        std::sort(batch, batch + n);
        const size_t used = read_in_spans(
            n, [&](size_t i) -> const LiveBlock& { return blocks_[batch[i]]; },
            [&](size_t i, const uint8_t* data, size_t bytes) {
                source_ = batch[i];
                if (data)
                    scan_words(data, bytes);
                else
                    read_and_scan(blocks_[batch[i]].address, blocks_[batch[i]].address + bytes);
            });
        for (size_t i = n; i-- > used;)
            work_[work_size_++] = batch[i]; // for the next round
    }
    source_ = SIZE_MAX;
}

void Reachability::propagate() {
    mode_ = Mode::Reach;
    drain();
}

void Reachability::classify() {
    // 1. Which unreached blocks does another unreached block point to? Those are indirect, the
    //    others definite. One pass over every unreached block, in batches.
    mode_ = Mode::Incoming;
    for (size_t i = count_; i-- > 0;)
        if (state_[i] == BlockState::Unreached) work_[work_size_++] = static_cast<uint32_t>(i);
    drain();
    for (size_t i = 0; i < count_; ++i)
        if (state_[i] == BlockState::Unreached) state_[i] = BlockState::Definite;
    // 2. Everything the definite blocks lead to is accounted for.
    mode_ = Mode::Cover;
    leader_ = SIZE_MAX;
    for (size_t i = count_; i-- > 0;) {
        if (state_[i] != BlockState::Definite) continue;
        covered_[i] = 1;
        work_[work_size_++] = static_cast<uint32_t>(i);
    }
    drain();
    // 3. What is left are cycles nothing outside points to: the lowest block of each becomes
    //    definite, and a block it leads to that was made definite this way before is indirect.
    for (size_t i = 0; i < count_; ++i) {
        if (state_[i] != BlockState::Indirect || covered_[i]) continue;
        state_[i] = BlockState::Definite;
        covered_[i] = 1;
        leader_ = i;
        work_[work_size_++] = static_cast<uint32_t>(i);
        drain();
    }
    leader_ = SIZE_MAX;
}

} // namespace memtrace::preload
