#include "reachability.h"

#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

namespace memtrace::preload {
namespace {

constexpr size_t kBufferSize = 1 << 20;
// mincore() is asked about this many pages at a time (256 MiB of 4 KiB pages).
constexpr size_t kResidencyPages = 1 << 16;
// Blocks read together in one process_vm_readv call.
constexpr size_t kBatchBlocks = 512;
// Larger blocks are scanned like root ranges (with mincore): a huge calloc'd block may be
// mostly untouched.
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
    work_ = static_cast<uint32_t*>(arena_.allocate((count_ + 1) * sizeof(uint32_t)));
    buffer_ = static_cast<uint8_t*>(arena_.allocate(kBufferSize));
    residency_ = static_cast<unsigned char*>(arena_.allocate(kResidencyPages));
    if (!state_ || !work_ || !buffer_ || !residency_) return false;
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
    if (mode_ == Mode::Reach) {
        if (s != BlockState::Unreached) return;
        s = BlockState::Reachable;
        work_[work_size_++] = static_cast<uint32_t>(block);
        return;
    }
    if (block == leader_) return; // a cycle back to the leader leaves it definite
    if (s == BlockState::Unreached) {
        s = BlockState::Indirect;
        work_[work_size_++] = static_cast<uint32_t>(block);
    } else if (s == BlockState::Definite) {
        s = BlockState::Indirect; // an earlier leader: its own subtree is already indirect
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

void Reachability::drain() {
    iovec remote[kBatchBlocks];
    while (work_size_) {
        // Large blocks go alone through the residency check; small ones in batches.
        const LiveBlock& top = blocks_[work_[work_size_ - 1]];
        if (top.size >= kLargeBlock) {
            --work_size_;
            scan_resident(top.address, top.address + top.size);
            continue;
        }
        size_t n = 0, total = 0;
        while (work_size_ && n < kBatchBlocks) {
            const LiveBlock& block = blocks_[work_[work_size_ - 1]];
            if (block.size >= kLargeBlock || total + block.size > kBufferSize) break;
            --work_size_;
            remote[n] = iovec{reinterpret_cast<void*>(block.address), block.size};
            total += block.size;
            ++n;
        }
        iovec local{buffer_, total};
        const ssize_t got = total ? process_vm_readv(getpid(), &local, 1, remote, n, 0) : 0;
        if (got == static_cast<ssize_t>(total)) {
            bytes_read_ += total;
            // Scanning may push more blocks, but the buffer is not read again until the next
            // batch, so scanning all pieces first is safe.
            size_t offset = 0;
            for (size_t i = 0; i < n; ++i) {
                scan_words(buffer_ + offset, remote[i].iov_len);
                offset += remote[i].iov_len;
            }
        } else {
            // Some block could not be read (freed and unmapped meanwhile): one by one.
            for (size_t i = 0; i < n; ++i) {
                const uintptr_t address = reinterpret_cast<uintptr_t>(remote[i].iov_base);
                read_and_scan(address, address + remote[i].iov_len);
            }
        }
    }
}

void Reachability::propagate() {
    mode_ = Mode::Reach;
    drain();
}

void Reachability::classify() {
    mode_ = Mode::Classify;
    for (size_t i = 0; i < count_; ++i) {
        if (state_[i] != BlockState::Unreached) continue;
        state_[i] = BlockState::Definite;
        leader_ = i;
        work_[work_size_++] = static_cast<uint32_t>(i);
        drain();
    }
}

} // namespace memtrace::preload
