// `memtrace check DUMP [rules] [reports]`: the CI gate over a dump. Exit 0 when every rule
// passes, the gate's code (23 by default, --exit-code) when one fails, 1 on errors, 2 on usage.
#include "cli/commands.h"
#include "cli/gate_options.h"
#include "cli/report_options.h"
#include "gate/gate_reports.h"
#include "memtrace_paths.h"
#include "reports/dump_facts.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace memtrace::cli {
namespace {

// CLI11 validator for byte sizes; the conversion happens in the callback.
struct ByteSizeValidator : public CLI::Validator {
    ByteSizeValidator() {
        name_ = "SIZE";
        func_ = [](std::string& text) -> std::string {
            try {
                (void)parse_byte_size(text);
                return {};
            } catch (const std::invalid_argument& e) {
                return e.what();
            }
        };
    }
};

gate::GrowthLimit parse_growth(const std::string& text) {
    gate::GrowthLimit limit;
    if (!text.empty() && text.back() == '%') {
        size_t used = 0;
        double percent = -1;
        try {
            percent = std::stod(text.substr(0, text.size() - 1), &used);
        } catch (const std::exception&) {
        }
        if (used != text.size() - 1 || !(percent >= 0) || !std::isfinite(percent))
            throw std::invalid_argument("not a percentage: " + text);
        limit.percent = percent;
    } else {
        limit.bytes = parse_byte_size(text);
    }
    return limit;
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path);
}

} // namespace

uint64_t parse_byte_size(const std::string& text) {
    size_t used = 0;
    double number = -1;
    try {
        number = std::stod(text, &used);
    } catch (const std::exception&) {
        throw std::invalid_argument("not a size: \"" + text + "\" (e.g. 4096, 64k, 1.5MiB, 2G)");
    }
    std::string unit = text.substr(used);
    double multiplier = 0;
    if (unit.empty() || unit == "B") {
        multiplier = 1;
    } else if (unit == "k" || unit == "K" || unit == "KiB" || unit == "KB") {
        multiplier = 1024.0;
    } else if (unit == "M" || unit == "MiB" || unit == "MB") {
        multiplier = 1024.0 * 1024;
    } else if (unit == "G" || unit == "GiB" || unit == "GB") {
        multiplier = 1024.0 * 1024 * 1024;
    } else if (unit == "T" || unit == "TiB" || unit == "TB") {
        multiplier = 1024.0 * 1024 * 1024 * 1024;
    }
    const double bytes = number * multiplier;
    if (multiplier == 0 || !(bytes >= 0) || bytes >= 1.8e19 || text.front() == '-' ||
        (unit.empty() && bytes != std::floor(bytes))) {
        throw std::invalid_argument("not a size: \"" + text + "\" (e.g. 4096, 64k, 1.5MiB, 2G)");
    }
    return static_cast<uint64_t>(std::llround(bytes));
}

void add_gate_options(CLI::App* command, GateCliOptions& options, CLI::Option* required_flag) {
    static const ByteSizeValidator kByteSize;
    std::vector<CLI::Option*> added;
    const char* group = "Gate rules";
    added.push_back(command
                        ->add_option("--max-leaked-bytes", options.max_leaked_bytes,
                                     "Fail when counted leaks exceed SIZE bytes")
                        ->type_name("SIZE")
                        ->check(kByteSize)
                        ->group(group));
    added.push_back(command
                        ->add_option("--max-leaked-blocks", options.rules.max_leaked_blocks,
                                     "Fail when counted leaks exceed N blocks (default rule when "
                                     "no --max-leaked-* is given: 0)")
                        ->type_name("N")
                        ->group(group));
    added.push_back(command
                        ->add_option("--max-peak", options.max_peak,
                                     "Fail when the peak of live heap exceeds SIZE")
                        ->type_name("SIZE")
                        ->check(kByteSize)
                        ->group(group));
    CLI::Option* growth =
        command
            ->add_option("--max-growth", options.max_growth,
                         "Fail when the peak of live heap exceeds the baseline's by more than "
                         "SIZE or PERCENT%")
            ->type_name("SIZE|PCT%")
            ->check(CLI::Validator(
                [](std::string& text) -> std::string {
                    try {
                        (void)parse_growth(text);
                        return {};
                    } catch (const std::invalid_argument& e) {
                        return e.what();
                    }
                },
                ""))
            ->group(group);
    added.push_back(growth);
    CLI::Option* baseline = command
                                ->add_option("--baseline", options.rules.baseline,
                                             "Dump of the reference run for --max-growth")
                                ->type_name("DUMP")
                                ->group(group);
    added.push_back(baseline);
    growth->needs(baseline);
    baseline->needs(growth);
    added.push_back(command
                        ->add_flag("--include-reachable", options.rules.include_reachable,
                                   "Count still-reachable blocks as leaks too")
                        ->group(group));
    added.push_back(command
                        ->add_option("--suppressions", options.rules.suppression_files,
                                     "Suppression file (docs/suppressions.md); repeatable")
                        ->type_name("FILE")
                        ->allow_extra_args(false)
                        ->group(group));
    added.push_back(command
                        ->add_flag("!--no-default-suppressions", options.rules.default_suppressions,
                                   "Do not load the built-in suppressions of glibc, libstdc++ and "
                                   "python3 start-up allocations")
                        ->group(group));
    added.push_back(command
                        ->add_option("--exit-code", options.exit_code,
                                     "Exit code when a rule fails (default 23)")
                        ->type_name("N")
                        ->check(CLI::Range(0, 255))
                        ->group(group));
    const char* reports = "Gate reports";
    CLI::Option* json = add_json_flag(command, options.json,
                                      "Write the verdict as JSON on stdout (docs/json-schema.md)")
                            ->group(reports);
    CLI::Option* github = command
                              ->add_flag("--github", options.github,
                                         "Write GitHub Actions annotations (::error) on stdout")
                              ->group(reports);
    json->excludes(github);
    added.push_back(json);
    added.push_back(github);
    added.push_back(command
                        ->add_option("--junit", options.junit_file,
                                     "Write a JUnit XML report (one test case per rule)")
                        ->type_name("FILE")
                        ->group(reports));
    added.push_back(command
                        ->add_option("--sarif", options.sarif_file,
                                     "Write a SARIF 2.1.0 report (one result per leak site)")
                        ->type_name("FILE")
                        ->group(reports));
    added.push_back(command
                        ->add_option("--source-root", options.source_root,
                                     "Make SARIF and annotation paths relative to DIR (default: "
                                     "the working directory)")
                        ->type_name("DIR")
                        ->group(reports));
    added.push_back(add_top_option(command, options.top,
                                   "Leak sites listed in text, JUnit and annotations (default 10)")
                        ->group(reports));
    if (required_flag != nullptr) {
        for (CLI::Option* option : added)
            option->needs(required_flag);
    }
}

gate::GateRules resolved_rules(const GateCliOptions& options) {
    gate::GateRules rules = options.rules;
    if (!options.max_leaked_bytes.empty())
        rules.max_leaked_bytes = parse_byte_size(options.max_leaked_bytes);
    if (!options.max_peak.empty()) rules.max_peak = parse_byte_size(options.max_peak);
    if (!options.max_growth.empty()) rules.max_growth = parse_growth(options.max_growth);
    return rules;
}

bool run_gate(const std::string& dump, const GateCliOptions& options, std::ostream* text_out) {
    const gate::GateVerdict verdict = gate::evaluate(dump, resolved_rules(options));
    gate::ReportSettings settings;
    settings.top = options.top;
    settings.tool_version = MEMTRACE_VERSION;
    std::error_code error;
    settings.source_root = options.source_root.empty()
                               ? std::filesystem::current_path(error).string()
                               : std::filesystem::absolute(options.source_root, error).string();
    if (!options.junit_file.empty()) {
        std::ostringstream junit;
        gate::write_junit(junit, verdict, settings);
        write_file(options.junit_file, junit.str());
    }
    if (!options.sarif_file.empty()) {
        write_file(options.sarif_file,
                   reports::dump_json(gate::to_sarif(verdict, settings)) + "\n");
    }
    if (text_out != nullptr) gate::write_text(*text_out, verdict, settings);
    if (options.json) std::cout << reports::dump_json(gate::to_json(verdict)) << '\n';
    if (options.github) gate::write_github(std::cout, verdict, settings);
    std::cout.flush();
    return verdict.passed();
}

void add_check_command(CLI::App& app, int* exit_code) {
    struct Options {
        std::string dump;
        GateCliOptions gate;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "check", "Judge a dump against CI rules (leaks, peak, growth) and exit non-zero when one "
                 "fails");
    command->add_option("DUMP", options->dump, "Dump file written by libmemtrace.so")->required();
    add_gate_options(command, options->gate, nullptr);
    command->footer("Exit status: 0 when every rule passes, 23 (or --exit-code) when one fails, "
                    "1 on errors, 2 on usage errors.");
    command->callback([options, exit_code] {
        const bool passed =
            run_gate(options->dump, options->gate, options->gate.json ? nullptr : &std::cout);
        *exit_code = passed ? 0 : options->gate.exit_code;
    });
}

} // namespace memtrace::cli
