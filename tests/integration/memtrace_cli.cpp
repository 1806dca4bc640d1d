#include "memtrace_cli.h"

#include "suite_paths.h"

#include <stdexcept>

namespace memtrace::integration {

void apply_traced_environment(ProcessSpec& spec) {
    for (const char* name :
         {"LD_PRELOAD", "MEMTRACE_OUTPUT", "MEMTRACE_DEPTH", "MEMTRACE_REPORT_PATHS",
          "MEMTRACE_INTERVAL", "MEMTRACE_SNAPSHOT_SIGNAL"})
        spec.env_removed.emplace_back(name);
    spec.env_removed.emplace_back("MEMTRACE_LEAK_SCAN");
    spec.env_overrides["GLIBC_TUNABLES"] = "glibc.pthread.stack_cache_size=0";
}

ProcessSpec memtrace_run_spec(const std::filesystem::path& cwd,
                              const std::vector<std::string>& launcher_args,
                              const std::vector<std::string>& program_argv) {
    ProcessSpec spec;
    spec.argv = {memtrace_exe().string(), "run"};
    spec.argv.insert(spec.argv.end(), launcher_args.begin(), launcher_args.end());
    spec.argv.push_back("--");
    spec.argv.insert(spec.argv.end(), program_argv.begin(), program_argv.end());
    spec.cwd = cwd;
    apply_traced_environment(spec);
    return spec;
}

ProcessSpec native_run_spec(const std::filesystem::path& cwd,
                            const std::vector<std::string>& program_argv) {
    ProcessSpec spec;
    spec.argv = program_argv;
    spec.cwd = cwd;
    apply_traced_environment(spec);
    return spec;
}

ProcessResult run_memtrace(const std::vector<std::string>& args, const std::filesystem::path& cwd) {
    ProcessSpec spec;
    spec.argv = {memtrace_exe().string()};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.cwd = cwd;
    spec.timeout = std::chrono::seconds(120);
    return run_process(spec);
}

AnalyzerOutput memtrace_json(const std::vector<std::string>& args,
                             const std::filesystem::path& cwd) {
    std::vector<std::string> with_json = args;
    with_json.push_back("--json");
    std::string command_line = "memtrace";
    for (const std::string& arg : args)
        command_line += " " + arg;
    AnalyzerOutput output;
    output.process = run_memtrace(with_json, cwd);
    if (!output.process.exited() || output.process.exit_code() != 0)
        throw std::runtime_error(command_line + " failed: " + output.process.describe());
    try {
        output.json = nlohmann::json::parse(output.process.out);
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(command_line + " printed invalid JSON (" + e.what() +
                                 "): " + output.process.describe());
    }
    return output;
}

AnalyzerOutput leaks_json(const std::filesystem::path& dump) {
    return memtrace_json({"leaks", dump.string()}, dump.parent_path());
}

AnalyzerOutput report_json(const std::filesystem::path& dump) {
    return memtrace_json({"report", dump.string()}, dump.parent_path());
}

} // namespace memtrace::integration
