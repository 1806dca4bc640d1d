// `memtrace arenas DUMP [--json]`
#include "cli/commands.h"
#include "cli/report_options.h"
#include "reports/arenas_report.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

namespace memtrace::cli {

void add_arenas_command(CLI::App& app, int* exit_code) {
    struct Options {
        std::string dump;
        reports::ArenasOptions report;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "arenas", "glibc's arenas, process memory over time, and the program's own mappings");
    command->add_option("DUMP", options->dump, "Dump file written by libmemtrace.so")->required();
    add_json_flag(command, options->report.json);
    command->callback([options, exit_code] {
        reports::write_arenas_report(options->dump, options->report, std::cout);
        std::cout.flush();
        *exit_code = 0;
    });
}

} // namespace memtrace::cli
