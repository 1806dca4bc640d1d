// Frame rules by code address, shared by all threads: a fixed open-addressing table read
// without a lock and filled on a miss. Keys carry a generation that dlclose() advances, so a rule
// of unloaded code is never used for code mapped at the same address later; slots of older
// generations are taken over by newer keys.
//
// A slot's rule is written only by the thread that claimed the slot (CAS of its key), right after
// claiming it; a reader checks the key before and after reading the rule, so it never takes the
// rule of a slot that changed hands meanwhile. A slot being taken over passes through kClaimed
// with its rule cleared before it shows its new key.
#pragma once

#include "frame_rule.h"
#include "hidden.h"

#include <stdint.h>

namespace memtrace::preload {

struct FrameRuleSlot {
    uint64_t key;  // pc | generation << 48; 0 = free, kFrameRuleClaimed = changing hands
    uint64_t rule; // pack_frame_rule(); 0 = not written yet
};

inline constexpr uint64_t kFrameRuleClaimed = 1; // no return address: pc 0 is below 0x4000

inline constexpr unsigned kFrameRuleSlotsLog2 = 16; // 1 MiB reserved, touched where keys land
inline constexpr unsigned kFrameRuleProbes = 16;

extern MEMTRACE_HIDDEN constinit FrameRuleSlot* g_frame_rule_slots;
// generation << 48, or ~0 once the cache is off (no table, or 2^16 dlclose() calls).
extern MEMTRACE_HIDDEN constinit uint64_t g_frame_rule_generation;

// Reserves the table. False if it could not (the cache stays off).
bool frame_rule_cache_init();

// Called around dlclose(): rules cached so far no longer apply.
void frame_rule_cache_forget_modules();

// Reads the rule with frame_rule_for() and caches it. 0 when the table has no room near pc.
uint64_t frame_rule_miss(uint64_t pc);

// The slot where pc's probe starts. Code addresses of one 64 KiB window map one to one onto
// slots, neighbours onto the same cache lines: a program's hot return addresses share few lines.
inline uint64_t frame_rule_home(uint64_t pc) {
    return (pc ^ (pc >> kFrameRuleSlotsLog2) ^ (pc >> (2 * kFrameRuleSlotsLog2))) &
           ((uint64_t{1} << kFrameRuleSlotsLog2) - 1);
}

// The packed rule at pc for a generation read by the caller (not ~0); 0 when the cache has no
// room near pc (the caller falls back).
[[gnu::always_inline]] inline uint64_t frame_rule_lookup(uint64_t pc, uint64_t generation) {
    const FrameRuleSlot& slot = g_frame_rule_slots[frame_rule_home(pc)];
    const uint64_t key = pc | generation;
    if (__atomic_load_n(&slot.key, __ATOMIC_ACQUIRE) == key) {
        const uint64_t rule = __atomic_load_n(&slot.rule, __ATOMIC_ACQUIRE);
        if (rule && __atomic_load_n(&slot.key, __ATOMIC_RELAXED) == key) return rule;
    }
    return frame_rule_miss(pc);
}

// The same, reading the generation; 0 also when the cache is off.
inline uint64_t frame_rule_lookup(uint64_t pc) {
    const uint64_t generation = __atomic_load_n(&g_frame_rule_generation, __ATOMIC_ACQUIRE);
    return generation == ~uint64_t{0} ? 0 : frame_rule_lookup(pc, generation);
}

} // namespace memtrace::preload
