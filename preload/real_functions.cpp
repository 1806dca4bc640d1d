#include "real_functions.h"

#include <dlfcn.h>

namespace memtrace::preload {

constinit RealFunctions g_real{};

bool resolve_real_functions() {
    // malloc last: the hooks take a non-null g_real.malloc to mean "all resolved".
    RealFunctions found{};
#define MEMTRACE_RESOLVE(name, ret, params)                                                        \
    found.name = reinterpret_cast<ret(*) params>(dlsym(RTLD_NEXT, #name));
    MEMTRACE_HOOKED_FUNCTIONS(MEMTRACE_RESOLVE)
#undef MEMTRACE_RESOLVE
    if (!found.malloc || !found.free || !found.calloc || !found.realloc) return false;
    auto* malloc_fn = found.malloc;
    found.malloc = nullptr;
    g_real = found;
    __atomic_store_n(&g_real.malloc, malloc_fn, __ATOMIC_RELEASE);
    return true;
}

} // namespace memtrace::preload
