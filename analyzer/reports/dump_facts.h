// What both reports say about the traced process: its name, how it ended, whether the dump
// is complete, in text and in JSON.
#pragma once

#include "dump_reader.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace memtrace::reports {

// Version of the JSON layout documented in docs/json-schema.md.
inline constexpr int kJsonSchemaVersion = 1;

// Basename of the traced executable; "?" when the dump does not say.
std::string program_name(const DumpReader& reader);

// "exit", "signal", "killed", "exec" or "unknown".
const char* end_how(const format::FileHeader& header);

// {"how": ..., "code": exit code or null, "signal": signal number or null}.
nlohmann::json end_json(const format::FileHeader& header);

// "exited with code 0", "was killed by signal 9 (SIGKILL)", ...
std::string describe_end(const format::FileHeader& header);

// Lines (each ending in '\n', possibly none) that warn a human the dump is not the whole story.
std::string incompleteness_notes(const DumpReader& reader);

// Names of the header flags set, for JSON ("out_of_space", "tracing_failed", ...).
nlohmann::json flags_json(const format::FileHeader& header);

// Seconds between two CLOCK_MONOTONIC times; 0 when `to` is before `from`.
double seconds_between(uint64_t from_ns, uint64_t to_ns);

// Text from the dump made safe for a terminal: control characters become '?'.
std::string printable(std::string_view text);

// "1.5 KiB" style, for text reports next to the exact byte count.
std::string human_bytes(uint64_t bytes);

// Serializes JSON without failing on bytes that are not UTF-8 (paths may hold any bytes).
std::string dump_json(const nlohmann::json& value);

} // namespace memtrace::reports
