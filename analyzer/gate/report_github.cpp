#include "gate/gate_reports.h"
#include "gate/user_frame.h"

namespace memtrace::gate {
namespace {

std::string escape(const std::string& text, bool property) {
    std::string out;
    for (const char c : text) {
        switch (c) {
        case '%':
            out += "%25";
            break;
        case '\r':
            out += "%0D";
            break;
        case '\n':
            out += "%0A";
            break;
        case ':':
            out += property ? "%3A" : ":";
            break;
        case ',':
            out += property ? "%2C" : ",";
            break;
        default:
            out += c;
        }
    }
    return out;
}

} // namespace

std::string github_escape_data(const std::string& text) {
    return escape(text, false);
}

std::string github_escape_property(const std::string& text) {
    return escape(text, true);
}

void write_github(std::ostream& out, const GateVerdict& verdict, const ReportSettings& settings) {
    bool leak_rule_failed = false;
    for (const RuleVerdict& rule : verdict.rules) {
        const bool leak_rule = rule.id == "leaked-bytes" || rule.id == "leaked-blocks";
        leak_rule_failed = leak_rule_failed || (leak_rule && !rule.passed);
        // Leak rules are located at their sites below; the others have no source location.
        if (!rule.passed && !leak_rule) {
            out << "::error title=" << github_escape_property("memtrace " + rule.id)
                << "::" << github_escape_data(rule.summary) << '\n';
        }
    }
    const char* level = leak_rule_failed ? "error" : "warning";
    size_t listed = 0;
    for (const GateSite& site : verdict.sites) {
        if (!site.counted) continue;
        if (listed++ == settings.top) break;
        std::string message = amount(site.bytes) + " in " + std::to_string(site.blocks) +
                              (site.blocks == 1 ? " block " : " blocks ") +
                              leak_kind_name(site.kind) + " (stack #" +
                              std::to_string(site.stack_id) + ")";
        size_t index = 0;
        for (const SymbolizedFrame& frame : site.frames) {
            if (index == settings.max_frames / 2) {
                message += "\n...";
                break;
            }
            message += "\n#" + std::to_string(index++) + " " + frame_label(frame);
        }
        out << "::" << level << ' ';
        const SymbolizedFrame* user = first_user_frame(site.frames);
        if (user != nullptr && !user->file.empty()) {
            out << "file="
                << github_escape_property(relative_to_root(user->file, settings.source_root));
            if (user->line != 0) out << ",line=" << user->line;
            out << ',';
        }
        out << "title="
            << github_escape_property(std::string("memtrace: ") + leak_kind_name(site.kind) +
                                      " leak")
            << "::" << github_escape_data(message) << '\n';
    }
    if (leak_rule_failed && verdict.counted.sites > settings.top) {
        out << "::" << level << " title=memtrace::"
            << github_escape_data(std::to_string(verdict.counted.sites - settings.top) +
                                  " more leak sites not annotated; see the job log or --json")
            << '\n';
    }
}

} // namespace memtrace::gate
