// Sampling on glibc's allocator: a recorded block carries 16 bytes of memtrace's in front of the
// app's bytes, where a glibc block has its chunk header. The free hook tells it from any other
// block by the word just before the pointer, which glibc's free reads next anyway: no set of
// sampled addresses to look up, whatever the number of live samples (docs/design.md,
// "Sampling").
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace memtrace::preload {

// Where glibc keeps a chunk's size, no glibc block can have this word: its top bit would make the
// chunk larger than PTRDIFF_MAX, which glibc never hands out.
inline constexpr uint64_t kSampledBlockMagic = 0xfa11'0c8e'd5a3'b1e7ull;

struct SampledBlockHeader {
    uint32_t offset;     // from the real block's start to the app's bytes (16, or the alignment)
    uint32_t generation; // dump generation + 1 while its Alloc is in this dump; 0: not recorded
    uint64_t magic;
};
static_assert(sizeof(SampledBlockHeader) == 16);

inline constexpr size_t kSampledHeaderBytes = sizeof(SampledBlockHeader);

// Only for a non-null block handed out by glibc's malloc family (or memtrace's hooks over it).
inline bool is_sampled_block(const void* p) {
    const auto* word = reinterpret_cast<const uint64_t*>(reinterpret_cast<uintptr_t>(p) - 8);
    return *word == kSampledBlockMagic;
}

inline SampledBlockHeader* sampled_header(void* p) {
    return reinterpret_cast<SampledBlockHeader*>(reinterpret_cast<uintptr_t>(p) -
                                                 kSampledHeaderBytes);
}

inline void* sampled_base(void* p) {
    return static_cast<char*>(p) - sampled_header(p)->offset;
}

} // namespace memtrace::preload
