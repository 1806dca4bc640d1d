// `memtrace histogram DUMP[@N|@LABEL|@end] [--json]`
#include "cli/commands.h"
#include "memory/snapshot_selection.h"
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
                     "Dump file; DUMP@N or DUMP@LABEL for the state at a snapshot")
        ->required();
    command->add_flag("--json", options->report.json,
                      "Write one JSON object (docs/json-schema.md)");
    command->callback([options, exit_code] {
        const memory::DumpSelection selection = memory::split_dump_selection(options->dump);
        options->report.selector = selection.selector;
        reports::write_histogram_report(selection.path, options->report, std::cout);
        std::cout.flush();
        *exit_code = 0;
    });
}

} // namespace memtrace::cli
