// A recorded stack as source-level frames, for the reports, in text and in JSON.
#pragma once

#include "dump_reader.h"
#include "symbolizer.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

namespace memtrace::reports {

// Every frame of the stack, innermost first, inlined frames before the function holding the
// call. Empty for kNoStack or a stack the dump does not define.
std::vector<SymbolizedFrame> symbolize_stack(Symbolizer& symbolizer, const DumpReader& reader,
                                             uint32_t stack_id);

// "0x..." in lower case.
std::string hex_address(uint64_t address);

nlohmann::json frames_json(const std::vector<SymbolizedFrame>& frames);

// One line per frame, each starting with `indent`, then a line if the stack was truncated.
void write_frames_text(std::ostream& out, const DumpReader& reader, uint32_t stack_id,
                       const std::vector<SymbolizedFrame>& frames, const char* indent);

// The same, but at most max_frames frames, then a line saying how many were left out.
void write_brief_frames(std::ostream& out, const DumpReader& reader, Symbolizer& symbolizer,
                        uint32_t stack_id, size_t max_frames, const char* indent);

} // namespace memtrace::reports
