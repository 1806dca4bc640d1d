// Suppression rules: leaks the user has decided not to fail on, matched against the symbolized
// allocation stack. Syntax (docs/suppressions.md): one rule per line, `#` comments,
//
//     function:GLOB   [# reason]     a frame's function name (demangled), shell glob
//     module:GLOB     [# reason]     a frame's executable or library (basename unless GLOB has /)
//     file:GLOB       [# reason]     a frame's source file (basename unless GLOB has /)
//     module-init:GLOB [# reason]    made by the static initializers of a module: every frame
//                                    before the loader's or libc's call_init/_dl_init is in it
//     leak:TEMPLATE                  LeakSanitizer's syntax: TEMPLATE anywhere in a function,
//                                    module or file name; * wildcard, ^ and $ anchors
//
// A function, module, file or leak rule suppresses a leak site when any frame of its stack
// matches.
#pragma once

#include "symbolizer.h"

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace memtrace {

// A suppression file that cannot be read or parsed; the message names file and line.
class SuppressionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct SuppressionRule {
    enum class Field { Function, Module, File, ModuleInit, LsanLeak };
    Field field = Field::Function;
    std::string pattern;
    std::string reason; // the comment after the rule; may be empty
    std::string origin; // "FILE:LINE"
};

// "function", "module", "file", "module-init", "leak".
const char* suppression_field_name(SuppressionRule::Field field);

// "function:foo*" as written (without the reason).
std::string describe_rule(const SuppressionRule& rule);

// Shell glob (fnmatch, no special meaning for /) over the whole text.
bool glob_match(std::string_view pattern, std::string_view text);
// LeakSanitizer's template: matches anywhere unless anchored by ^ / $; * is the only wildcard.
bool lsan_template_match(std::string_view templ, std::string_view text);

class SuppressionSet {
public:
    // Throws SuppressionError.
    void add_file(const std::string& path);
    // `name` stands for the file in origins and errors.
    void add_text(std::string_view text, const std::string& name);

    const std::vector<SuppressionRule>& rules() const {
        return rules_;
    }
    bool empty() const {
        return rules_.empty();
    }

    // The first rule (in the order added) that matches any frame, or nullptr.
    const SuppressionRule* match(const std::vector<SymbolizedFrame>& frames) const;

private:
    std::vector<SuppressionRule> rules_;
};

// Whether the rule matches the stack (innermost frame first).
bool rule_matches(const SuppressionRule& rule, const std::vector<SymbolizedFrame>& frames);

} // namespace memtrace
