// The options of the CI gate, shared by `memtrace check DUMP` and `memtrace run --check`.
#pragma once

#include "gate/gate.h"

#include <cstddef>
#include <iosfwd>
#include <string>

namespace CLI {
class App;
class Option;
} // namespace CLI

namespace memtrace::cli {

struct GateCliOptions {
    gate::GateRules rules; // without the sizes below
    // Sizes as given (checked by CLI11); resolved_rules() converts them.
    std::string max_leaked_bytes, max_peak, max_growth;
    int exit_code = gate::kDefaultGateExitCode;
    bool json = false; // the verdict as JSON on stdout
    std::string junit_file;
    std::string sarif_file;
    bool github = false;     // GitHub Actions workflow commands on stdout
    std::string source_root; // empty: the working directory
    size_t top = 10;
};

// Registers the rule and report options on `command`. With `required_flag` set (run's
// --check), each of them is refused unless that flag is given too.
void add_gate_options(CLI::App* command, GateCliOptions& options, CLI::Option* required_flag);

// `rules` with the sizes converted.
gate::GateRules resolved_rules(const GateCliOptions& options);

// Evaluates the gate on the dump and writes the reports: the text to `text_out` (unless null),
// JSON and annotations to stdout, JUnit and SARIF to their files. Returns whether it passed.
// Throws on unreadable dumps or suppression files, and on files it cannot write.
bool run_gate(const std::string& dump, const GateCliOptions& options, std::ostream* text_out);

// "4096", "64k", "1.5MiB", "2G": binary multiples. Throws std::invalid_argument.
uint64_t parse_byte_size(const std::string& text);

} // namespace memtrace::cli
