// `memtrace report DUMP [--json]`
#include "cli/commands.h"
#include "cli/report_options.h"
#include "progress.h"
#include "reports/summary_report.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

namespace memtrace::cli {

void add_report_command(CLI::App& app, int* exit_code) {
    struct Options {
        std::string dump;
        bool quiet = false;
        reports::SummaryReportOptions report;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "report", "Summarize a run: totals, peak heap, leaks and the busiest allocation sites");
    command->add_option("DUMP", options->dump, "Dump file written by libmemtrace.so")->required();
    add_json_flag(command, options->report.json);
    command->add_flag("-q,--quiet", options->quiet, "No progress line while reading the dump");
    command->callback([options, exit_code] {
        if (options->quiet) Progress::set_quiet(true);
        reports::write_summary_report(options->dump, options->report, std::cout);
        std::cout.flush();
        *exit_code = 0;
    });
}

} // namespace memtrace::cli
