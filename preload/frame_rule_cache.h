// Frame rules by code address, shared by all threads: a fixed open-addressing table that is read
// without a lock and filled on a miss (compare-and-swap of the key, then the rule). Keys carry a
// generation that dlclose() advances, so a rule of unloaded code is never used for code mapped
// at the same address later.
#pragma once

#include "frame_rule.h"

#include <stdint.h>

namespace memtrace::preload {

struct FrameRuleSlot {
    uint64_t key;  // pc | generation << 48; 0 = free
    uint64_t rule; // pack_frame_rule(); 0 = not written yet
};

inline constexpr unsigned kFrameRuleSlotsLog2 = 16; // 1 MiB reserved, touched where keys land
inline constexpr unsigned kFrameRuleProbes = 16;

extern constinit FrameRuleSlot* g_frame_rule_slots;
// generation << 48, or ~0 once the cache is off (no table, or 2^16 dlclose() calls).
extern constinit uint64_t g_frame_rule_generation;

// Reserves the table. False if it could not (the cache stays off).
bool frame_rule_cache_init();

// Called around dlclose(): rules cached so far no longer apply.
void frame_rule_cache_forget_modules();

// Reads the rule with frame_rule_for() and caches it. 0 when the table has no room near pc.
uint64_t frame_rule_miss(uint64_t pc);

// The packed rule at pc; 0 when the cache is off or full (the caller falls back).
[[gnu::always_inline]] inline uint64_t frame_rule_lookup(uint64_t pc) {
    const uint64_t generation = __atomic_load_n(&g_frame_rule_generation, __ATOMIC_RELAXED);
    if (__builtin_expect(generation == ~uint64_t{0}, 0)) return 0;
    const FrameRuleSlot& slot =
        g_frame_rule_slots[(pc * 0x9e3779b97f4a7c15ull) >> (64 - kFrameRuleSlotsLog2)];
    if (__atomic_load_n(&slot.key, __ATOMIC_ACQUIRE) == (pc | generation)) {
        const uint64_t rule = __atomic_load_n(&slot.rule, __ATOMIC_ACQUIRE);
        if (rule) return rule;
    }
    return frame_rule_miss(pc);
}

} // namespace memtrace::preload
