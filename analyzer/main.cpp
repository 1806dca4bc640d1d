// The memtrace CLI: parses the command line, runs one subcommand, and turns any failure into
// one line on stderr. Exit codes: 0 success, 1 failure, 2 bad command line (see docs/cli.md;
// `memtrace run` passes on its program's own code).
#include "cli/commands.h"
#include "memtrace_paths.h"

#include <CLI/CLI.hpp>
#include <exception>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void set_up_logging() {
    auto logger = spdlog::stderr_logger_mt("memtrace");
    logger->set_pattern("memtrace: %l: %v");
    spdlog::set_default_logger(std::move(logger));
}

std::string usage_failure(const CLI::App* app, const CLI::Error& error) {
    (void)app;
    return std::string("memtrace: error: ") + error.what() + "\nRun 'memtrace --help' for usage.\n";
}

} // namespace

int main(int argc, char** argv) {
    try {
        set_up_logging();
        CLI::App app{"memtrace: find where a program allocates heap memory, and what it leaks",
                     "memtrace"};
        app.set_version_flag("--version", "memtrace " MEMTRACE_VERSION);
        app.require_subcommand(1);
        app.failure_message(usage_failure);
        int exit_code = 0;
        memtrace::cli::add_run_command(app, &exit_code);
        memtrace::cli::add_leaks_command(app, &exit_code);
        memtrace::cli::add_report_command(app, &exit_code);
        memtrace::cli::add_compact_command(app, &exit_code);
        memtrace::cli::add_diff_command(app, &exit_code);
        memtrace::cli::add_growth_command(app, &exit_code);
        memtrace::cli::add_histogram_command(app, &exit_code);
        memtrace::cli::add_arenas_command(app, &exit_code);
        memtrace::cli::add_check_command(app, &exit_code);
        try {
            app.parse(argc, argv);
        } catch (const CLI::ParseError& error) {
            const int code = app.exit(error);
            return code == static_cast<int>(CLI::ExitCodes::Success) ? 0 : kExitUsage;
        }
        return exit_code;
    } catch (const std::exception& error) {
        spdlog::error("{}", error.what());
        return kExitFailure;
    } catch (...) {
        spdlog::error("unexpected internal error");
        return kExitFailure;
    }
}
