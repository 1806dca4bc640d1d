// One pass over a dump's allocation events that stops at given moments to look at the heap:
// the doctor needs the live heap at the time of a memory sample, the histogram at a snapshot.
#pragma once

#include "dump_reader.h"
#include "heap_model.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace memtrace::memory {

// Replays every event (estimating as HeapModel does for a sampled dump) and calls
// at_checkpoint(i, model) for times_ns[i], once every event with time <= times_ns[i] has been
// applied and no later one. times_ns must be sorted. Returns the model at the end.
HeapModel
replay_with_checkpoints(const DumpReader& reader, const std::vector<uint64_t>& times_ns,
                        const std::function<void(size_t, const HeapModel&)>& at_checkpoint);

} // namespace memtrace::memory
