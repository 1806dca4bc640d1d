// The interposed functions' originals, found with dlsym(RTLD_NEXT) so that an allocator the app
// itself preloads or links (jemalloc, tcmalloc) is the one memtrace forwards to.
#pragma once

#include "hidden.h"
#include "hooked_functions.h"

namespace memtrace::preload {

struct RealFunctions {
#define MEMTRACE_REAL_POINTER(name, ret, params) ret(*name) params;
    MEMTRACE_HOOKED_FUNCTIONS(MEMTRACE_REAL_POINTER)
#undef MEMTRACE_REAL_POINTER
};

// Written once by resolve_real_functions(); null members until then.
extern MEMTRACE_HIDDEN RealFunctions g_real;

// Fills g_real. Allocations made meanwhile (by dlsym) must be served by the bootstrap arena,
// which the hooks do while g_real.malloc is null. Returns false if malloc or free is missing.
bool resolve_real_functions();

} // namespace memtrace::preload
