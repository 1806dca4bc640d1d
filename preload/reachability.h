// The marking of the leak scan, as LeakSanitizer and memcheck do it: a live block is reachable
// when an aligned pointer-sized word in a root range, or in a reachable block, points anywhere
// inside it (interior pointers count). Of the blocks left over, those pointed to from another
// unreachable block are indirect and the rest definite; a cycle of blocks that nothing outside
// points to keeps its first block (lowest address) definite and the others indirect, the result
// memcheck's clique algorithm gives (LeakSanitizer calls every block of such a cycle indirect).
//
// Memory is read with process_vm_readv on the own process, which reports an error instead of
// faulting on unmapped, PROT_NONE or guard pages and on blocks another thread just freed and
// unmapped. Ranges of root memory are first checked with mincore so that pages never touched
// (the unused part of an 8 MiB stack, a reserve) are not faulted in.
#pragma once

#include "memtrace/dump_format.h"
#include "scan_arena.h"

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

struct LiveBlock {
    uint64_t address;
    uint64_t size;
};

// Gone: freed by another thread while the scan ran; neither followed nor reported.
enum class BlockState : uint8_t {
    Unreached = 0,
    Reachable = 1,
    Definite = 2,
    Indirect = 3,
    Gone = 4
};

class Reachability {
public:
    Reachability(ScanArena& arena, const LiveBlock* blocks, size_t count)
        : arena_(arena), blocks_(blocks), count_(count) {
    }

    // Takes the scan memory (state, work list, read buffer). False when the arena is out.
    bool init();

    // Root memory of the process, read through process_vm_readv.
    void scan_root_range(uintptr_t begin, uintptr_t end);
    // Blocks the scan does not know (allocated by other threads meanwhile) read as roots; the
    // array is sorted in place.
    void scan_root_blocks(LiveBlock* blocks, size_t count);
    // Root words already in memtrace's hands.
    void scan_root_words(const uintptr_t* words, size_t count);
    // A block another thread freed during the scan.
    void drop(size_t i) {
        state_[i] = BlockState::Gone;
    }
    // Marks everything reachable from the blocks the roots reached.
    void propagate();
    // Splits the unreached blocks into definite and indirect.
    void classify();

    BlockState state(size_t i) const {
        return state_[i];
    }
    const LiveBlock& block(size_t i) const {
        return blocks_[i];
    }
    // The block containing address, or SIZE_MAX.
    size_t find(uintptr_t address) const;

    uint64_t bytes_read() const {
        return bytes_read_;
    }

private:
    // What a pointer found while scanning does:
    //   Reach     marks an unreached block reachable and queues it.
    //   Incoming  marks an unreached block other than the one being read indirect (it has a
    //             pointer from another unreachable block); queues nothing.
    //   Cover     queues a definite or indirect block not yet covered; a definite one other
    //             than the current leader becomes indirect (memcheck's clique merge).
    enum class Mode { Reach, Incoming, Cover };

    void visit(size_t block);
    void scan_words(const uint8_t* data, size_t bytes);
    // Reads [begin, end) in buffer-sized pieces, skipping pages that cannot be read.
    void read_and_scan(uintptr_t begin, uintptr_t end);
    // Like read_and_scan, but first skips pages that are not resident.
    void scan_resident(uintptr_t begin, uintptr_t end);
    // Reads n blocks (at(i), ascending addresses, each below the large-block size) with few
    // process_vm_readv calls, as many as fit the buffer; calls on_block(i, data, size) for each
    // (data nullptr when it could not be read that way). Returns how many it took.
    template <typename BlockAt, typename OnBlock>
    size_t read_in_spans(size_t n, BlockAt&& at, OnBlock&& on_block);
    // Scans one block through the read window (see kWindowSize).
    void scan_small_block(uint32_t index);
    // Scans the contents of the blocks on the work list until it is empty.
    void drain();

    ScanArena& arena_;
    const LiveBlock* blocks_;
    size_t count_;
    BlockState* state_ = nullptr;
    uint8_t* covered_ = nullptr; // Cover mode: already queued
    uint32_t* work_ = nullptr;
    size_t work_size_ = 0;
    uint8_t* buffer_ = nullptr;
    unsigned char* residency_ = nullptr;
    uint8_t* window_ = nullptr; // a copy of [window_begin_, window_end_)
    uintptr_t window_begin_ = 0;
    uintptr_t window_end_ = 0;
    uintptr_t lowest_ = 0; // [lowest_, highest_) covers every block
    uintptr_t highest_ = 0;
    Mode mode_ = Mode::Reach;
    size_t leader_ = SIZE_MAX; // Cover mode: the block whose flood this is (SIZE_MAX: none)
    size_t source_ = SIZE_MAX; // the block being read (SIZE_MAX: root memory)
    uint64_t bytes_read_ = 0;
    size_t page_ = 4096;
};

} // namespace memtrace::preload
