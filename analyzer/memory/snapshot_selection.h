// `DUMP@N`, `DUMP@LABEL` and `DUMP@end`: which moment of a dump a view is about.
// TODO(lead): helper "agrowth" writes the same for diff/growth; unify on one of them.
#pragma once

#include "dump_reader.h"

#include <cstddef>
#include <optional>
#include <string>

namespace memtrace::memory {

struct DumpSelection {
    std::string path;
    std::string selector; // empty or "end": the final state
};

// Splits at the last '@', unless the whole argument names an existing file.
DumpSelection split_dump_selection(const std::string& argument);

// The snapshot the selector names: N counts snapshots from 1 in time order, LABEL takes the last
// snapshot with that label. nullopt for the final state. Throws DumpError when nothing matches.
std::optional<size_t> resolve_snapshot(const DumpReader& reader, const std::string& selector);

} // namespace memtrace::memory
