// `memtrace growth DUMP [--json] [--top N] [--min-r2 R] [--from S] [--to S] [--with-exit]
// [--series]`
#include "cli/commands.h"
#include "cli/report_options.h"
#include "reports/growth_report.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

namespace memtrace::cli {

void add_growth_command(CLI::App& app, int* exit_code) {
    struct Options {
        std::string dump;
        reports::GrowthReportOptions report;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "growth", "Rank the allocation sites whose live bytes grow steadily over the snapshots "
                  "of one run");
    command->add_option("DUMP", options->dump, "Dump file written by libmemtrace.so")->required();
    add_json_flag(command, options->report.json);
    add_top_option(command, options->report.top,
                   "Show only the N fastest-growing sites (default: all)");
    command
        ->add_option("--min-r2", options->report.min_r2,
                     "Fit quality (R^2 of the least-squares line) a site needs to count as "
                     "growing steadily (default 0.8)")
        ->type_name("R")
        ->check(CLI::Range(0.0, 1.0));
    command
        ->add_option("--from", options->report.from,
                     "First snapshot to consider: N (1-based) or LABEL (default: the first)")
        ->type_name("SNAPSHOT");
    command
        ->add_option("--to", options->report.to,
                     "Last snapshot to consider: N, LABEL or end (default: the last)")
        ->type_name("SNAPSHOT");
    command->add_flag("--with-exit", options->report.with_exit,
                      "Also consider snapshots taken at exit (left out by default: a service "
                      "that cleans up before exiting would look like it shrank)");
    command->add_flag("--series", options->report.series,
                      "JSON: add each site's live bytes and blocks at every snapshot");
    command->callback([options, exit_code] {
        reports::write_growth_report(options->dump, options->report, std::cout);
        std::cout.flush();
        *exit_code = 0;
    });
}

} // namespace memtrace::cli
