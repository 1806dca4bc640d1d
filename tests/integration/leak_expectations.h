// Exact checks on the analyzer's JSON (`memtrace leaks --json`, `memtrace report --json`).
// They use non-fatal gtest expectations, so one run reports every mismatch at once.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace memtrace::integration {

struct ExpectedSite {
    std::string function;    // frame 0, the caller of the allocating function, demangled
    uint64_t bytes = 0;      // live bytes of the site
    uint64_t count = 0;      // live blocks of the site
    std::string source_file; // file name of frame 0, under tests/programs
    std::string marker;      // "/* site: marker */" on frame 0's line; no line check if empty
    std::string module;      // file name of the module holding frame 0
    std::string caller;      // frame 1's function; not checked if empty
};

std::string file_name(const std::string& path);

// The sites whose frame 0 is `function`.
std::vector<nlohmann::json> sites_at(const nlohmann::json& leaks, const std::string& function);

// One line per site (bytes, count, frames) for failure messages.
std::string describe_sites(const nlohmann::json& leaks);

// The site's kind: "live" when the dump has no completed reachability scan, else one of
// "definite", "indirect", "reachable" ("live" too for blocks allocated after the scan).
void expect_kind_consistent(const nlohmann::json& leaks, const nlohmann::json& site);

// Exactly one site has frame 0 == expected.function, and it matches in every field.
void expect_site(const nlohmann::json& leaks, const ExpectedSite& expected);

// The frame-0 functions of all sites are exactly these (as a multiset, order ignored).
void expect_site_functions(const nlohmann::json& leaks, std::vector<std::string> functions);

// total_bytes and total_blocks are these, and equal the sums over the sites.
void expect_totals(const nlohmann::json& leaks, uint64_t bytes, uint64_t blocks);

// Sites come largest (by bytes) first.
void expect_largest_first(const nlohmann::json& leaks);

// The `complete` and `end` fields. code is checked for how == "exit", signal for "signal" and
// "killed".
void expect_end(const nlohmann::json& doc, const std::string& how, bool complete,
                std::optional<int> code, std::optional<int> signal);

} // namespace memtrace::integration
