// The memtrace subcommands. Each registers itself on the CLI11 app; its callback stores the
// process exit code in *exit_code (see docs/cli.md for the codes).
#pragma once

namespace CLI {
class App;
}

namespace memtrace::cli {

void add_run_command(CLI::App& app, int* exit_code);
void add_leaks_command(CLI::App& app, int* exit_code);
void add_report_command(CLI::App& app, int* exit_code);
void add_compact_command(CLI::App& app, int* exit_code);
void add_diff_command(CLI::App& app, int* exit_code);
void add_growth_command(CLI::App& app, int* exit_code);
void add_histogram_command(CLI::App& app, int* exit_code);
void add_arenas_command(CLI::App& app, int* exit_code);
void add_check_command(CLI::App& app, int* exit_code);

} // namespace memtrace::cli
