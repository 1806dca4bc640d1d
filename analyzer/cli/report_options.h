// Options several report commands share, so that they read and check alike.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>

namespace memtrace::cli {

inline CLI::Option*
add_json_flag(CLI::App* command, bool& json,
              const std::string& help = "Write one JSON object (docs/json-schema.md)") {
    return command->add_flag("--json", json, help);
}

// --top N: how many sites a report lists (N >= 1).
inline CLI::Option* add_top_option(CLI::App* command, size_t& top, const std::string& help) {
    return command->add_option("--top", top, help)
        ->type_name("N")
        ->check(CLI::Range(size_t{1}, size_t{1} << 40));
}

} // namespace memtrace::cli
