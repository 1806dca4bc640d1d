// `memtrace leaks DUMP [--json] [--all] [--top N]`
#include "cli/commands.h"
#include "cli/report_options.h"
#include "progress.h"
#include "reports/leak_report.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

namespace memtrace::cli {

void add_leaks_command(CLI::App& app, int* exit_code) {
    struct Options {
        std::string dump;
        bool quiet = false;
        reports::LeakReportOptions report;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "leaks", "Show the blocks still live when the process ended, grouped by allocation stack");
    command->add_option("DUMP", options->dump, "Dump file written by libmemtrace.so")->required();
    add_json_flag(command, options->report.json);
    command->add_flag("--all", options->report.all,
                      "Also list still-reachable blocks (text; the JSON always lists every kind)");
    add_top_option(command, options->report.top, "Show only the N largest sites (default: all)");
    command->add_flag("-q,--quiet", options->quiet, "No progress line while reading the dump");
    command->callback([options, exit_code] {
        if (options->quiet) Progress::set_quiet(true);
        reports::write_leak_report(options->dump, options->report, std::cout);
        std::cout.flush();
        *exit_code = 0;
    });
}

} // namespace memtrace::cli
