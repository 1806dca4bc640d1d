#include "suppressions/suppressions.h"

#include <cerrno>
#include <cstring>
#include <fnmatch.h>
#include <fstream>
#include <sstream>

namespace memtrace {
namespace {

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t\r");
    return text.substr(first, last - first + 1);
}

std::string_view basename_of(std::string_view path) {
    const auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Module and file patterns without a slash name the file, wherever it is.
bool path_match(std::string_view pattern, std::string_view path) {
    if (path.empty()) return false;
    if (pattern.find('/') != std::string_view::npos) return glob_match(pattern, path);
    return glob_match(pattern, basename_of(path));
}

std::optional<SuppressionRule::Field> field_named(std::string_view name) {
    using Field = SuppressionRule::Field;
    if (name == "function" || name == "fun") return Field::Function;
    if (name == "module" || name == "lib" || name == "library") return Field::Module;
    if (name == "file" || name == "src") return Field::File;
    if (name == "module-init") return Field::ModuleInit;
    if (name == "leak") return Field::LsanLeak;
    return std::nullopt;
}

} // namespace

const char* suppression_field_name(SuppressionRule::Field field) {
    switch (field) {
    case SuppressionRule::Field::Function:
        return "function";
    case SuppressionRule::Field::Module:
        return "module";
    case SuppressionRule::Field::File:
        return "file";
    case SuppressionRule::Field::ModuleInit:
        return "module-init";
    case SuppressionRule::Field::LsanLeak:
        break;
    }
    return "leak";
}

std::string describe_rule(const SuppressionRule& rule) {
    return std::string(suppression_field_name(rule.field)) + ":" + rule.pattern;
}

bool glob_match(std::string_view pattern, std::string_view text) {
    return ::fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

bool lsan_template_match(std::string_view templ, std::string_view text) {
    bool anchored_start = false;
    bool anchored_end = false;
    if (!templ.empty() && templ.front() == '^') {
        anchored_start = true;
        templ.remove_prefix(1);
    }
    if (!templ.empty() && templ.back() == '$') {
        anchored_end = true;
        templ.remove_suffix(1);
    }
    // Only * is special in LSan templates: escape what fnmatch would read as a pattern.
    std::string pattern = anchored_start ? "" : "*";
    for (const char c : templ) {
        if (c == '?' || c == '[' || c == ']' || c == '\\') pattern += '\\';
        pattern += c;
    }
    if (!anchored_end) pattern += '*';
    return glob_match(pattern, text);
}

namespace {

// The functions that run initializers: ld.so's for shared objects (at start-up and dlopen),
// libc's for the main executable.
bool is_initializer_caller(const SymbolizedFrame& frame) {
    return frame.function == "call_init" || frame.function == "_dl_init";
}

// Every frame up to the initializer caller lies in a module matching the pattern.
bool made_by_initializer_of(const std::string& pattern,
                            const std::vector<SymbolizedFrame>& frames) {
    size_t own = 0;
    for (const SymbolizedFrame& frame : frames) {
        if (is_initializer_caller(frame)) return own != 0;
        if (!path_match(pattern, frame.module)) return false;
        ++own;
    }
    return false;
}

bool rule_matches_frame(const SuppressionRule& rule, const SymbolizedFrame& frame) {
    using Field = SuppressionRule::Field;
    switch (rule.field) {
    case Field::Function:
        return frame.function != "??" && glob_match(rule.pattern, frame.function);
    case Field::Module:
        return path_match(rule.pattern, frame.module);
    case Field::File:
        return path_match(rule.pattern, frame.file);
    case Field::ModuleInit:
        return false; // a property of the whole stack
    case Field::LsanLeak:
        return (frame.function != "??" && lsan_template_match(rule.pattern, frame.function)) ||
               (!frame.module.empty() && lsan_template_match(rule.pattern, frame.module)) ||
               (!frame.file.empty() && lsan_template_match(rule.pattern, frame.file));
    }
    return false;
}

} // namespace

bool rule_matches(const SuppressionRule& rule, const std::vector<SymbolizedFrame>& frames) {
    if (rule.field == SuppressionRule::Field::ModuleInit)
        return made_by_initializer_of(rule.pattern, frames);
    for (const SymbolizedFrame& frame : frames) {
        if (rule_matches_frame(rule, frame)) return true;
    }
    return false;
}

void SuppressionSet::add_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw SuppressionError("cannot read the suppression file " + path + ": " +
                               std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    add_text(text.str(), path);
}

void SuppressionSet::add_text(std::string_view text, const std::string& name) {
    size_t line_number = 0;
    while (!text.empty()) {
        const auto newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
        ++line_number;
        const std::string origin = name + ":" + std::to_string(line_number);

        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        // A # after white space starts the comment: on a rule line, the rule's reason. (A # with
        // no space before it belongs to the name, as in C++'s "{lambda()#1}".)
        std::string reason;
        for (size_t i = 1; i < line.size(); ++i) {
            if (line[i] == '#' && (line[i - 1] == ' ' || line[i - 1] == '\t')) {
                reason = std::string(trim(line.substr(i + 1)));
                line = trim(line.substr(0, i));
                break;
            }
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            throw SuppressionError(origin +
                                   ": expected TYPE:PATTERN (function:, module:, file: "
                                   "or leak:), got \"" +
                                   std::string(line) + "\"");
        }
        const auto field = field_named(trim(line.substr(0, colon)));
        if (!field) {
            throw SuppressionError(origin + ": unknown rule type \"" +
                                   std::string(trim(line.substr(0, colon))) +
                                   "\" (use function, module, file, module-init or leak)");
        }
        const std::string_view pattern = trim(line.substr(colon + 1));
        if (pattern.empty()) throw SuppressionError(origin + ": empty pattern");
        rules_.push_back({*field, std::string(pattern), std::move(reason), origin});
    }
}

const SuppressionRule* SuppressionSet::match(const std::vector<SymbolizedFrame>& frames) const {
    for (const SuppressionRule& rule : rules_) {
        if (rule_matches(rule, frames)) return &rule;
    }
    return nullptr;
}

} // namespace memtrace
