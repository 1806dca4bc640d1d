// Runs the real memtrace CLI: `memtrace run` around a test program, and the analyzer's JSON
// output for a dump.
#pragma once

#include "subprocess.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace memtrace::integration {

// The environment every traced program gets on top of the driver's: no inherited preload or
// memtrace settings, and glibc told not to cache the stacks of finished threads. Without the
// latter glibc keeps the TLS vector of a cached stack (one calloc from ld.so per cached
// stack) live at exit, which is real but would make the exact totals depend on thread timing.
void apply_traced_environment(ProcessSpec& spec);

// `memtrace run <launcher_args> -- <program_argv>` in cwd.
ProcessSpec memtrace_run_spec(const std::filesystem::path& cwd,
                              const std::vector<std::string>& launcher_args,
                              const std::vector<std::string>& program_argv);

// The program alone, as a native run to compare output and status with.
ProcessSpec native_run_spec(const std::filesystem::path& cwd,
                            const std::vector<std::string>& program_argv);

struct AnalyzerOutput {
    ProcessResult process;
    nlohmann::json json;
};

// `memtrace ARGS...` in cwd (a 2-minute limit); the caller checks the status.
ProcessResult run_memtrace(const std::vector<std::string>& args, const std::filesystem::path& cwd);

// `memtrace ARGS... --json` in cwd. Throws with the analyzer's stderr when it fails or prints
// something that is not one JSON document.
AnalyzerOutput memtrace_json(const std::vector<std::string>& args,
                             const std::filesystem::path& cwd);

// `memtrace leaks DUMP --json` and `memtrace report DUMP --json`. Throw with the analyzer's
// stderr when it fails or prints something that is not one JSON document.
AnalyzerOutput leaks_json(const std::filesystem::path& dump);
AnalyzerOutput report_json(const std::filesystem::path& dump);

} // namespace memtrace::integration
