#include "thread_tags.h"

#include "spin_lock.h"
#include "thread_state.h"

#include <pthread.h>

namespace memtrace::preload {

namespace {

constinit SpinLock g_lock;
constinit uint64_t g_taken[4] = {1, 0, 0, 0}; // bit t: tag t is a living thread's; 0 is no tag
constinit pthread_key_t g_exit_key = 0;
constinit bool g_on = false;

void release(void* value) {
    const auto tag = static_cast<uint8_t>(reinterpret_cast<uintptr_t>(value));
    // Events in later thread-exit destructors read the fine clock.
    t_thread.tag = kNoThreadTag;
    SpinLockGuard guard(g_lock);
    g_taken[tag / 64] &= ~(uint64_t{1} << (tag % 64));
}

} // namespace

bool thread_tags_init() {
    g_on = pthread_key_create(&g_exit_key, release) == 0;
    return g_on;
}

uint8_t thread_tag_acquire() {
    if (!__atomic_load_n(&g_on, __ATOMIC_RELAXED)) return kNoThreadTag;
    uint8_t tag = kNoThreadTag;
    {
        SpinLockGuard guard(g_lock);
        for (unsigned word = 0; word < 4 && tag == kNoThreadTag; ++word) {
            if (g_taken[word] == ~uint64_t{0}) continue;
            const unsigned bit = static_cast<unsigned>(__builtin_ctzll(~g_taken[word]));
            g_taken[word] |= uint64_t{1} << bit;
            tag = static_cast<uint8_t>(word * 64 + bit);
        }
    }
    // A low key index: setspecific does not allocate.
    if (tag != kNoThreadTag && pthread_setspecific(g_exit_key, reinterpret_cast<void*>(tag)) != 0)
        tag = kNoThreadTag; // never given back: one tag fewer
    return tag;
}

void thread_tags_off_after_fork() {
    g_lock.reset();
    __atomic_store_n(&g_on, false, __ATOMIC_RELAXED);
    t_thread.tag = kNoThreadTag;
}

} // namespace memtrace::preload
