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

namespace {

// The rule of a slot that holds key, or 0 while its claimer has not written it.
uint64_t written_rule(const FrameRuleSlot& slot, uint64_t key) {
    const uint64_t rule = __atomic_load_n(&slot.rule, __ATOMIC_ACQUIRE);
    return rule && __atomic_load_n(&slot.key, __ATOMIC_RELAXED) == key ? rule : 0;
}

// Makes the slot, which held `found`, hold key instead. A free slot, or one of an older
// generation whose claimer is done (its rule is written): the rule is cleared before the new key
// shows. False if the slot is not free to take, or another thread took it first.
bool claim(FrameRuleSlot& slot, uint64_t& found, uint64_t key, uint64_t generation) {
    if (found == 0)
        return __atomic_compare_exchange_n(&slot.key, &found, key, false, __ATOMIC_ACQ_REL,
                                           __ATOMIC_ACQUIRE);
    if (found == kFrameRuleClaimed || found >> kGenerationShift >= generation >> kGenerationShift ||
        __atomic_load_n(&slot.rule, __ATOMIC_ACQUIRE) == 0)
        return false;
    if (!__atomic_compare_exchange_n(&slot.key, &found, kFrameRuleClaimed, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return false;
    __atomic_store_n(&slot.rule, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&slot.key, key, __ATOMIC_RELEASE);
    return true;
}

} // namespace

uint64_t frame_rule_miss(uint64_t pc) {
    const uint64_t generation = __atomic_load_n(&g_frame_rule_generation, __ATOMIC_ACQUIRE);
    if (generation == ~uint64_t{0} || pc >> kGenerationShift || pc <= kFrameRuleClaimed) return 0;
    const uint64_t key = pc | generation;
    const uint64_t mask = (uint64_t{1} << kFrameRuleSlotsLog2) - 1;
    uint64_t index = frame_rule_home(pc);
    for (unsigned probe = 0; probe < kFrameRuleProbes; ++probe, index = (index + 1) & mask) {
        FrameRuleSlot& slot = g_frame_rule_slots[index];
        uint64_t found = __atomic_load_n(&slot.key, __ATOMIC_ACQUIRE);
        if (found != key && !claim(slot, found, key, generation) && found != key) continue;
        if (found == key) {
            // Another thread holds the slot for this key: its rule, or while it is still being
            // read, the same rule read here (the slot stays its claimer's to write).
            const uint64_t rule = written_rule(slot, key);
            return rule ? rule : pack_frame_rule(frame_rule_for(pc));
        }
        const uint64_t rule = pack_frame_rule(frame_rule_for(pc));
        __atomic_store_n(&slot.rule, rule, __ATOMIC_RELEASE);
        return rule;
    }
    return 0;
}

} // namespace memtrace::preload
