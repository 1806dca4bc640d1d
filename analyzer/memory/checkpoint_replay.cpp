#include "memory/checkpoint_replay.h"

namespace memtrace::memory {

HeapModel
replay_with_checkpoints(const DumpReader& reader, const std::vector<uint64_t>& times_ns,
                        const std::function<void(size_t, const HeapModel&)>& at_checkpoint) {
    return replay_at_times(reader, times_ns, at_checkpoint);
}

} // namespace memtrace::memory
