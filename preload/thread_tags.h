// A small number per thread that had events, kept with each granule of the live map (the last
// thread that allocated or freed a block starting there), so that an event can tell whether
// the block or its address came from another thread: only then does its time need the fine
// clock (docs/design.md, "Event times").
#pragma once

#include <stdint.h>

namespace memtrace::preload {

// No tag: the thread's events always read the fine clock. Also what an untouched granule holds.
inline constexpr uint8_t kNoThreadTag = 0;

// Creates the thread-exit key that gives a thread's tag back. False if it could not.
bool thread_tags_init();

// A tag no other living thread has, or kNoThreadTag when all 255 are taken (or tags are off).
// The calling thread gives it back when it exits.
uint8_t thread_tag_acquire();

// The fork child: the map's tags were written by the parent's threads; none is trusted again.
void thread_tags_off_after_fork();

} // namespace memtrace::preload
