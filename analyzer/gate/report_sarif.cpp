#include "gate/gate_reports.h"
#include "gate/user_frame.h"

#include <cstdio>
#include <spdlog/fmt/fmt.h>

namespace memtrace::gate {
namespace {

struct KindRule {
    LeakKind kind;
    const char* id;
    const char* name;
    const char* description;
};

constexpr KindRule kKindRules[] = {
    {LeakKind::Definite, "memtrace/leak/definite", "DefiniteLeak",
     "Heap memory definitely lost: no pointer to the block was left anywhere in the process at "
     "exit."},
    {LeakKind::Indirect, "memtrace/leak/indirect", "IndirectLeak",
     "Heap memory indirectly lost: the block was reachable only from lost blocks at exit."},
    {LeakKind::Reachable, "memtrace/leak/reachable", "StillReachable",
     "Heap memory still reachable at exit from globals, thread stacks, registers or TLS, never "
     "freed."},
    {LeakKind::Live, "memtrace/leak/live", "LiveAtExit",
     "Heap memory still allocated when the dump ends, with no reachability scan to tell lost "
     "from reachable."},
};

// RFC 3986 percent-encoding of a path, keeping / and the unreserved characters.
std::string uri_path(const std::string& path) {
    std::string out;
    for (const char c : path) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
            (byte >= '0' && byte <= '9') || c == '/' || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            out += c;
        } else {
            out += fmt::format("%{:02X}", byte);
        }
    }
    return out;
}

// Relative to SRCROOT when under the source root, else an absolute file: URI (or the
// relative path as the debug info has it).
nlohmann::json artifact_location(const std::string& path, const std::string& root) {
    const std::string relative = relative_to_root(path, root);
    if (relative != path) return {{"uri", uri_path(relative)}, {"uriBaseId", "SRCROOT"}};
    if (!path.empty() && path.front() == '/') return {{"uri", "file://" + uri_path(path)}};
    // Relative in the debug info itself (glibc's "./csu/..."): no base we could name.
    return {{"uri", uri_path(path)}};
}

nlohmann::json location_of(const SymbolizedFrame& frame, const std::string& root) {
    nlohmann::json location = nlohmann::json::object();
    const std::string& file = frame.file.empty() ? frame.module : frame.file;
    if (!file.empty()) {
        nlohmann::json physical = {{"artifactLocation", artifact_location(file, root)}};
        if (!frame.file.empty() && frame.line != 0) {
            nlohmann::json region = {{"startLine", frame.line}};
            if (frame.column != 0) region["startColumn"] = frame.column;
            physical["region"] = std::move(region);
        }
        location["physicalLocation"] = std::move(physical);
    }
    location["logicalLocations"] =
        nlohmann::json::array({{{"fullyQualifiedName", frame.function}, {"kind", "function"}}});
    return location;
}

// Stable across runs of the same code (addresses change with ASLR, names and lines do not).
std::string stack_fingerprint(const std::vector<SymbolizedFrame>& frames, LeakKind kind) {
    uint64_t hash = 1469598103934665603ull;
    auto mix = [&hash](const std::string& text) {
        for (const char c : text) {
            hash ^= static_cast<unsigned char>(c);
            hash *= 1099511628211ull;
        }
        hash ^= 0xff;
        hash *= 1099511628211ull;
    };
    mix(leak_kind_name(kind));
    for (const SymbolizedFrame& frame : frames) {
        mix(frame.function);
        mix(frame.file);
    }
    return fmt::format("{:016x}", hash);
}

bool leak_rules_failed(const GateVerdict& verdict) {
    for (const RuleVerdict& rule : verdict.rules) {
        if (!rule.passed && (rule.id == "leaked-bytes" || rule.id == "leaked-blocks")) return true;
    }
    return false;
}

} // namespace

nlohmann::json to_sarif(const GateVerdict& verdict, const ReportSettings& settings) {
    nlohmann::json rules = nlohmann::json::array();
    for (const KindRule& rule : kKindRules) {
        rules.push_back({{"id", rule.id},
                         {"name", rule.name},
                         {"shortDescription", {{"text", rule.description}}},
                         {"defaultConfiguration",
                          {{"level", rule.kind == LeakKind::Reachable ? "note" : "error"}}}});
    }
    const bool failing = leak_rules_failed(verdict);
    nlohmann::json results = nlohmann::json::array();
    for (const GateSite& site : verdict.sites) {
        if (!site.counted && !site.suppressed_by) continue;
        const auto rule_index = static_cast<size_t>(site.kind);
        const SymbolizedFrame* user = first_user_frame(site.frames);
        std::string text =
            fmt::format("{} in {} {} {} ({}), allocated", amount(site.bytes), site.blocks,
                        site.blocks == 1 ? "block" : "blocks",
                        site.kind == LeakKind::Live ? "still live at exit" : "leaked",
                        leak_kind_name(site.kind));
        text += user ? " at " + frame_label(*user) : " from an unknown stack";
        nlohmann::json result = {
            {"ruleId", kKindRules[rule_index].id},
            {"ruleIndex", rule_index},
            {"level", site.suppressed_by ? "note" : (failing ? "error" : "warning")},
            {"message", {{"text", text}}},
            {"partialFingerprints",
             {{"memtraceStack/v1", stack_fingerprint(site.frames, site.kind)}}},
            {"properties",
             {{"bytes", site.bytes}, {"blocks", site.blocks}, {"stackId", site.stack_id}}},
        };
        if (user)
            result["locations"] = nlohmann::json::array({location_of(*user, settings.source_root)});
        nlohmann::json frames = nlohmann::json::array();
        for (const SymbolizedFrame& frame : site.frames) {
            nlohmann::json entry = {{"location", location_of(frame, settings.source_root)}};
            if (!frame.module.empty()) entry["module"] = frame.module;
            frames.push_back(std::move(entry));
        }
        result["stacks"] = nlohmann::json::array(
            {{{"message", {{"text", "allocation stack, innermost first"}}}, {"frames", frames}}});
        if (site.suppressed_by) {
            const SuppressionRule& rule = *site.suppressed_by;
            result["suppressions"] = nlohmann::json::array(
                {{{"kind", "external"},
                  {"justification", describe_rule(rule) + " (" + rule.origin +
                                        (rule.reason.empty() ? "" : ": " + rule.reason) + ")"}}});
        }
        results.push_back(std::move(result));
    }
    std::string root = settings.source_root;
    if (!root.empty() && root.back() != '/') root += '/';
    nlohmann::json run = {
        {"tool",
         {{"driver",
           {{"name", "memtrace"}, {"version", settings.tool_version}, {"rules", rules}}}}},
        {"results", std::move(results)},
        {"invocations", nlohmann::json::array({{{"executionSuccessful", true},
                                                {"properties", {{"passed", verdict.passed()}}}}})},
    };
    if (!root.empty())
        run["originalUriBaseIds"] = {{"SRCROOT", {{"uri", "file://" + uri_path(root)}}}};
    return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
            {"version", "2.1.0"},
            {"runs", nlohmann::json::array({std::move(run)})}};
}

} // namespace memtrace::gate
