// The ELF objects mapped in the process, recorded as ModuleLoad/ModuleUnload records so the
// analyzer can symbolize offline. Rescanned at start and after every dlopen()/dlclose().
#pragma once

#include <stdint.h>

namespace memtrace::preload {

// Compares dl_iterate_phdr() with what was recorded and writes records for the differences.
// Takes the module lock; never called from the allocation path.
void module_map_rescan(uint64_t now);

// Forgets every module (the fork child starts a new dump and rescans).
void module_map_reset();

void module_map_lock_for_fork();
void module_map_unlock_after_fork();

} // namespace memtrace::preload
