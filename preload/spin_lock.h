// A tiny lock for memtrace's rare slow paths (new chunk, new module). Never held while unwinding
// or around anything that can call back into the allocator. A plain word, so fork() handlers
// can reset it in the child without worrying about an owner that no longer exists.
#pragma once

#include <sched.h>

namespace memtrace::preload {

class SpinLock {
public:
    void lock() {
        while (__atomic_exchange_n(&locked_, 1, __ATOMIC_ACQUIRE)) {
            while (__atomic_load_n(&locked_, __ATOMIC_RELAXED))
                sched_yield();
        }
    }
    void unlock() {
        __atomic_store_n(&locked_, 0, __ATOMIC_RELEASE);
    }
    // Only for the fork child, where the owner may be a thread that was not copied.
    void reset() {
        locked_ = 0;
    }

private:
    int locked_ = 0;
};

class SpinLockGuard {
public:
    explicit SpinLockGuard(SpinLock& lock) : lock_(lock) {
        lock_.lock();
    }
    ~SpinLockGuard() {
        lock_.unlock();
    }
    SpinLockGuard(const SpinLockGuard&) = delete;
    SpinLockGuard& operator=(const SpinLockGuard&) = delete;

private:
    SpinLock& lock_;
};

} // namespace memtrace::preload
