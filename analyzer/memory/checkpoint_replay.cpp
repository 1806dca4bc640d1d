#include "memory/checkpoint_replay.h"

namespace memtrace::memory {

HeapModel
replay_with_checkpoints(const DumpReader& reader, const std::vector<uint64_t>& times_ns,
                        const std::function<void(size_t, const HeapModel&)>& at_checkpoint) {
    HeapModel model(reader.sample_bytes());
    size_t next = 0;
    reader.for_each_event([&](const HeapEvent& event) {
        while (next < times_ns.size() && event.time_ns > times_ns[next])
            at_checkpoint(next++, model);
        model.apply(event);
    });
    while (next < times_ns.size())
        at_checkpoint(next++, model);
    return model;
}

} // namespace memtrace::memory
