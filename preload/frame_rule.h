// How to step from an x86-64 frame to its caller's, read from the .eh_frame of the object that
// holds the code. Only the common shape is described (the one libunwind's fast trace also
// handles): CFA = RSP or RBP + offset, the return address at CFA - 8, RBP unchanged or saved at
// CFA + offset. Everything else is Unsupported, and the caller unwinds with libunwind instead.
#pragma once

#include <stdint.h>

namespace memtrace::preload {

enum class FrameKind : uint8_t {
    Standard = 1,    // the rule below applies
    Outermost = 2,   // the return address (or RBP) is undefined: the stack ends here
    Unsupported = 3, // no unwind info, a signal frame, a DWARF expression, an odd register rule
};

struct FrameRule {
    FrameKind kind;
    bool cfa_from_rbp;  // else from RSP
    bool rbp_saved;     // else RBP is unchanged in the caller
    int16_t rbp_offset; // from the CFA, when saved
    int32_t cfa_offset;
};

// A rule in one nonzero word, for the lock-free cache.
inline uint64_t pack_frame_rule(const FrameRule& rule) {
    return static_cast<uint32_t>(rule.cfa_offset) |
           uint64_t{static_cast<uint16_t>(rule.rbp_offset)} << 32 |
           uint64_t{static_cast<uint8_t>(rule.kind)} << 48 | uint64_t{rule.cfa_from_rbp} << 56 |
           uint64_t{rule.rbp_saved} << 57;
}

inline FrameRule unpack_frame_rule(uint64_t word) {
    return FrameRule{static_cast<FrameKind>((word >> 48) & 0xff), ((word >> 56) & 1) != 0,
                     ((word >> 57) & 1) != 0, static_cast<int16_t>(word >> 32),
                     static_cast<int32_t>(word)};
}

// The rule at `pc` (for a return address, pass the address minus one: the call instruction).
// Finds the object with _dl_find_object (lock-free, no allocation) and its FDE through the
// binary-search table of .eh_frame_hdr, then runs the CIE's and FDE's call frame instructions
// up to pc.
FrameRule frame_rule_for(uint64_t pc);

} // namespace memtrace::preload
