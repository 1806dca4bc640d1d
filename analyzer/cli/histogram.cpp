// `memtrace histogram DUMP[@N|@LABEL|@end] [--json]`
#include "cli/commands.h"
#include "cli/report_options.h"
#include "reports/histogram_report.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

namespace memtrace::cli {

void add_histogram_command(CLI::App& app, int* exit_code) {
    struct Options {
        std::string dump;
        reports::HistogramOptions report;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "histogram", "Allocations per size class: counts, requested, usable and live bytes");
    command
        ->add_option("DUMP", options->dump,
                     "Dump file; DUMP@N or DUMP@LABEL for the state at a snapshot "
                     "(docs/cli.md)")
        ->required();
    add_json_flag(command, options->report.json);
    command->callback([options, exit_code] {
        reports::write_histogram_report(options->dump, options->report, std::cout);
        std::cout.flush();
        *exit_code = 0;
    });
}

} // namespace memtrace::cli
