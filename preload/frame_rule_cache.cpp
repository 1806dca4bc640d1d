#include "frame_rule_cache.h"

#include "raw_syscalls.h"

namespace memtrace::preload {

constinit FrameRuleSlot* g_frame_rule_slots = nullptr;
constinit uint64_t g_frame_rule_generation = ~uint64_t{0};

namespace {
constexpr uint64_t kGenerationShift = 48; // user-space addresses fit in 47 bits
} // namespace

bool frame_rule_cache_init() {
    if (g_frame_rule_slots) return true;
    const size_t bytes = sizeof(FrameRuleSlot) << kFrameRuleSlotsLog2;
    void* table = raw_mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (table == MAP_FAILED) return false;
    g_frame_rule_slots = static_cast<FrameRuleSlot*>(table);
    __atomic_store_n(&g_frame_rule_generation, 0, __ATOMIC_RELEASE);
    return true;
}

void frame_rule_cache_forget_modules() {
    uint64_t generation = __atomic_load_n(&g_frame_rule_generation, __ATOMIC_RELAXED);
    uint64_t next;
    do {
        if (generation == ~uint64_t{0}) return;
        // After 2^16 generations old keys would come back to life: the cache turns off.
        next = (generation >> kGenerationShift) == 0xffff
                   ? ~uint64_t{0}
                   : generation + (uint64_t{1} << kGenerationShift);
    } while (!__atomic_compare_exchange_n(&g_frame_rule_generation, &generation, next, true,
                                          __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
}

uint64_t frame_rule_miss(uint64_t pc) {
    const uint64_t generation = __atomic_load_n(&g_frame_rule_generation, __ATOMIC_ACQUIRE);
    if (generation == ~uint64_t{0} || pc >> kGenerationShift) return 0;
    const uint64_t key = pc | generation;
    const uint64_t mask = (uint64_t{1} << kFrameRuleSlotsLog2) - 1;
    uint64_t index = frame_rule_home(pc);
    for (unsigned probe = 0; probe < kFrameRuleProbes; ++probe, index = (index + 1) & mask) {
        FrameRuleSlot& slot = g_frame_rule_slots[index];
        uint64_t found = __atomic_load_n(&slot.key, __ATOMIC_ACQUIRE);
        if (found == 0 && !__atomic_compare_exchange_n(&slot.key, &found, key, false,
                                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            // Another thread took the slot first; `found` is now its key.
        } else if (found == 0) {
            found = key; // ours now
        }
        if (found != key) continue;
        uint64_t rule = __atomic_load_n(&slot.rule, __ATOMIC_ACQUIRE);
        if (rule) return rule;
        // Every thread that gets here computes the same rule, so racing stores agree.
        rule = pack_frame_rule(frame_rule_for(pc));
        __atomic_store_n(&slot.rule, rule, __ATOMIC_RELEASE);
        return rule;
    }
    return 0;
}

} // namespace memtrace::preload
