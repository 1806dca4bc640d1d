// The doctor section of `memtrace report`: gathers what the doctor needs from a dump (the last
// memory sample, the heap and the mappings at that moment) and writes its diagnosis.
#pragma once

#include "dump_reader.h"
#include "heap_model.h"
#include "memory/doctor.h"
#include "memory/memory_samples.h"
#include "symbolizer.h"

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

namespace memtrace::reports {

// The heap as it was at the doctor's sample.
struct HeapAtSample {
    uint64_t live_bytes = 0;
    uint64_t live_blocks = 0;
    std::vector<memory::ClassLive> by_class;
};
HeapAtSample capture_heap(const HeapModel& model);

// The sample the doctor looks at (nullptr when the dump has none).
const memory::MemorySample* doctor_sample(const std::vector<memory::MemorySample>& samples);

// `heap` must be the heap at doctor_sample(samples)'s time.
memory::Diagnosis diagnose_dump(const DumpReader& reader,
                                const std::vector<memory::MemorySample>& samples,
                                const HeapAtSample& heap);

void write_doctor_text(std::ostream& out, const memory::Diagnosis& diagnosis,
                       const DumpReader& reader, Symbolizer& symbolizer);
nlohmann::json doctor_json(const memory::Diagnosis& diagnosis, const DumpReader& reader,
                           Symbolizer& symbolizer);

} // namespace memtrace::reports
