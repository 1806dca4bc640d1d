// The reports of a gate verdict: text for people, JSON, JUnit XML, SARIF 2.1.0 and GitHub
// Actions workflow commands (docs/ci.md says where each goes and what it holds).
#pragma once

#include "gate/gate.h"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

namespace memtrace::gate {

struct ReportSettings {
    size_t top = 10;         // leak sites listed in text, JUnit failures and annotations
    size_t max_frames = 16;  // frames per stack in text and JUnit (annotations: half); JSON and
                             // SARIF have them all
    std::string source_root; // SARIF and annotation paths are made relative to it
    std::string tool_version;
};

void write_text(std::ostream& out, const GateVerdict& verdict, const ReportSettings& settings);

nlohmann::json to_json(const GateVerdict& verdict);

// One <testsuite> with one <testcase> per rule; a failed rule's <failure> holds the largest
// counted leak stacks.
void write_junit(std::ostream& out, const GateVerdict& verdict, const ReportSettings& settings);

// One result per counted or suppressed leak site (suppressed ones carry a SARIF suppression),
// ruleId memtrace/leak/<kind>, located at the first frame in the user's code.
nlohmann::json to_sarif(const GateVerdict& verdict, const ReportSettings& settings);

// ::error lines: one per counted leak site (up to settings.top), one per failed rule that has
// no location.
void write_github(std::ostream& out, const GateVerdict& verdict, const ReportSettings& settings);

// Text escaping shared by the writers.
std::string xml_escape(const std::string& text);
std::string github_escape_data(const std::string& text);
std::string github_escape_property(const std::string& text);

} // namespace memtrace::gate
