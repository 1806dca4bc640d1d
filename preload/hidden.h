// The library's own globals are declared hidden, so that the hooks address them directly.
// -fvisibility=hidden applies to definitions only: a global merely declared is still reached
// through the GOT, one load more on every access of the hot path.
#pragma once

#define MEMTRACE_HIDDEN __attribute__((visibility("hidden")))
