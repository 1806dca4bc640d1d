// The live heap per allocation stack at chosen moments of one run (snapshots or the final
// state), from one replay of the dump however many moments are asked for.
#pragma once

#include "dump_reader.h"
#include "growth/dump_selection.h"
#include "growth/site_diff.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace memtrace::growth {

struct StackLive {
    uint32_t stack_id = 0;
    LiveFigures live;
};

// The stacks holding live blocks at one moment, by stack id.
struct HeapState {
    std::vector<StackLive> stacks;
    LiveFigures total;
};

// A moment of the run: a snapshot's index in reader.snapshots(), or nullopt for the end.
using Moment = std::optional<size_t>;

// One state per moment, in the order asked (a moment may be asked twice). Throws DumpError.
std::vector<HeapState> capture_states(const DumpReader& reader, const std::vector<Moment>& moments);

// The dump's snapshots as selection errors list them.
std::vector<SnapshotListing> snapshot_listings(const DumpReader& reader);

// The process's RSS in bytes recorded with snapshot `snapshot` (the preload stamps its
// ProcessMemory record with the snapshot's time); nullopt when the dump has none.
std::optional<uint64_t> rss_at_snapshot(const DumpReader& reader, size_t snapshot);

// "interval", "signal", "api", "exit".
const char* trigger_name(format::SnapshotTrigger trigger);

} // namespace memtrace::growth
