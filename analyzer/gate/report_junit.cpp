#include "gate/gate_reports.h"
#include "gate/user_frame.h"

namespace memtrace::gate {

std::string xml_escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&apos;";
            break;
        default:
            // XML 1.0 has no way to write other control characters, even escaped.
            out += (byte < 0x20 && c != '\n' && c != '\t' && c != '\r') ? '?' : c;
        }
    }
    return out;
}

void write_junit(std::ostream& out, const GateVerdict& verdict, const ReportSettings& settings) {
    size_t failures = 0;
    for (const RuleVerdict& rule : verdict.rules)
        failures += rule.passed ? 0 : 1;
    const std::string suite = "memtrace check " + verdict.program;
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out << "<testsuites name=\"memtrace\" tests=\"" << verdict.rules.size() << "\" failures=\""
        << failures << "\" errors=\"0\">\n";
    out << "  <testsuite name=\"" << xml_escape(suite) << "\" tests=\"" << verdict.rules.size()
        << "\" failures=\"" << failures << "\" errors=\"0\" skipped=\"0\">\n";
    out << "    <properties>\n"
        << "      <property name=\"dump\" value=\"" << xml_escape(verdict.dump_path) << "\"/>\n"
        << "      <property name=\"pid\" value=\"" << verdict.pid << "\"/>\n"
        << "      <property name=\"scanned\" value=\"" << (verdict.scanned ? "true" : "false")
        << "\"/>\n"
        << "      <property name=\"suppressed_blocks\" value=\"" << verdict.suppressed.blocks
        << "\"/>\n"
        << "      <property name=\"suppressed_bytes\" value=\"" << verdict.suppressed.bytes
        << "\"/>\n"
        << "    </properties>\n";
    for (const RuleVerdict& rule : verdict.rules) {
        out << "    <testcase classname=\"memtrace." << xml_escape(verdict.program) << "\" name=\""
            << xml_escape(rule.id) << "\">\n";
        if (!rule.passed) {
            out << "      <failure type=\"memtrace." << xml_escape(rule.id) << "\" message=\""
                << xml_escape(rule.summary) << "\">";
            std::string body = rule.summary + "\n";
            if (rule.id == "leaked-bytes" || rule.id == "leaked-blocks") {
                size_t listed = 0;
                for (const GateSite& site : verdict.sites) {
                    if (!site.counted) continue;
                    if (listed++ == settings.top) {
                        body += "... " + std::to_string(verdict.counted.sites - settings.top) +
                                " smaller sites not shown\n";
                        break;
                    }
                    body += '\n';
                    body += amount(site.bytes) + " in " + std::to_string(site.blocks) +
                            (site.blocks == 1 ? " block" : " blocks") + ", " +
                            leak_kind_name(site.kind) + ", from stack #" +
                            std::to_string(site.stack_id) + ":\n";
                    size_t index = 0;
                    for (const SymbolizedFrame& frame : site.frames) {
                        if (index == settings.max_frames) {
                            body += "  ... more frames\n";
                            break;
                        }
                        body += "  #" + std::to_string(index++) + " " + frame_label(frame) + "\n";
                    }
                }
            }
            out << xml_escape(body) << "</failure>\n";
        }
        out << "      <system-out>" << xml_escape(rule.summary) << "</system-out>\n";
        out << "    </testcase>\n";
    }
    out << "  </testsuite>\n</testsuites>\n";
}

} // namespace memtrace::gate
