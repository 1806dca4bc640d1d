// `memtrace diff A B [--json] [--top N]`
#include "cli/commands.h"
#include "cli/report_options.h"
#include "reports/diff_report.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

namespace memtrace::cli {

void add_diff_command(CLI::App& app, int* exit_code) {
    struct Options {
        std::string a;
        std::string b;
        reports::DiffReportOptions report;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "diff", "Show how the live heap changed from A to B, per allocation site, largest "
                "growth first");
    command
        ->add_option("A", options->a,
                     "The earlier state: DUMP (its final state), DUMP@N (the N-th snapshot), "
                     "DUMP@LABEL or DUMP@end")
        ->required();
    command->add_option("B", options->b, "The later state, written the same way")->required();
    add_json_flag(command, options->report.json);
    add_top_option(command, options->report.top,
                   "Show only the first N changed sites (default: all)");
    command->callback([options, exit_code] {
        reports::write_diff_report(options->a, options->b, options->report, std::cout);
        std::cout.flush();
        *exit_code = 0;
    });
}

} // namespace memtrace::cli
