// Runs the memory views of the real memtrace CLI (`histogram`, `arenas`, and `report` for its
// doctor section) and parses their JSON.
#pragma once

#include "memtrace_cli.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace memtrace::integration {

// `memtrace <command> <dump_argument> --json`; throws with the analyzer's stderr when it fails
// or prints anything but one JSON document.
AnalyzerOutput memory_view_json(const std::string& command, const std::string& dump_argument,
                                const std::filesystem::path& cwd);

// `memtrace <command> <dump_argument>` as text; the caller checks the status.
ProcessResult memory_view_text(const std::string& command, const std::string& dump_argument,
                               const std::filesystem::path& cwd);

// tests/programs/<file> in the source tree (for scripts run by an interpreter).
std::filesystem::path program_source(const std::string& file);

// The classes of `histogram --json`, by max_size.
std::map<uint64_t, nlohmann::json> classes_by_max_size(const nlohmann::json& histogram);

// The findings of the doctor in `report --json` of the given kind.
std::vector<nlohmann::json> doctor_findings(const nlohmann::json& report, const std::string& kind);

// Whether any frame of the JSON frame list names `function`.
bool frames_name(const nlohmann::json& frames, const std::string& function);

} // namespace memtrace::integration
