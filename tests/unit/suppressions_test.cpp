// Suppression rules: parsing (types, reasons, comments, errors with file:line) and matching
// against symbolized stacks, including LeakSanitizer's templates and module initializers.
#include "suppressions/default_suppressions.h"
#include "suppressions/suppressions.h"

#include <gtest/gtest.h>

namespace memtrace {
namespace {

SymbolizedFrame frame(std::string function, std::string module, std::string file = "") {
    SymbolizedFrame f;
    f.function = std::move(function);
    f.module = std::move(module);
    f.file = std::move(file);
    return f;
}

TEST(Suppressions, ParsesTypesReasonsAndComments) {
    SuppressionSet set;
    set.add_text("# comment\n\n  function:ns::Cache::grow*   # cache grows once\n"
                 "module:libfoo.so*\nfile:*/vendor/*.c # vendored\nleak:^bar$\n"
                 "function:main::{lambda()#1}::operator()\n",
                 "t.supp");
    const auto& rules = set.rules();
    ASSERT_EQ(rules.size(), 5u);
    EXPECT_EQ(rules[0].field, SuppressionRule::Field::Function);
    EXPECT_EQ(rules[0].pattern, "ns::Cache::grow*");
    EXPECT_EQ(rules[0].reason, "cache grows once");
    EXPECT_EQ(rules[0].origin, "t.supp:3");
    EXPECT_EQ(rules[1].field, SuppressionRule::Field::Module);
    EXPECT_EQ(rules[1].reason, "");
    EXPECT_EQ(rules[2].field, SuppressionRule::Field::File);
    EXPECT_EQ(rules[2].pattern, "*/vendor/*.c");
    EXPECT_EQ(rules[2].reason, "vendored");
    EXPECT_EQ(rules[3].field, SuppressionRule::Field::LsanLeak);
    EXPECT_EQ(rules[3].pattern, "^bar$");
    // '#' with no blank before it belongs to the name.
    EXPECT_EQ(rules[4].pattern, "main::{lambda()#1}::operator()");
    EXPECT_EQ(describe_rule(rules[1]), "module:libfoo.so*");
}

TEST(Suppressions, ErrorsNameFileAndLine) {
    SuppressionSet set;
    try {
        set.add_text("function:ok\nfunktion:x\n", "bad.supp");
        FAIL() << "no error";
    } catch (const SuppressionError& e) {
        EXPECT_NE(std::string(e.what()).find("bad.supp:2"), std::string::npos) << e.what();
    }
    EXPECT_THROW(set.add_text("function:   # nothing\n", "e.supp"), SuppressionError);
    EXPECT_THROW(set.add_text("no colon here\n", "n.supp"), SuppressionError);
    EXPECT_THROW(set.add_file("/nonexistent/memtrace.supp"), SuppressionError);
}

TEST(Suppressions, GlobAndLsanTemplates) {
    EXPECT_TRUE(glob_match("lose_*", "lose_block"));
    EXPECT_FALSE(glob_match("lose", "lose_block"));
    EXPECT_TRUE(glob_match("std::*", "std::vector<int>::push_back(int const&)"));
    EXPECT_TRUE(lsan_template_match("ose_bl", "lose_block"));
    EXPECT_TRUE(lsan_template_match("^lose", "lose_block"));
    EXPECT_FALSE(lsan_template_match("^ose", "lose_block"));
    EXPECT_TRUE(lsan_template_match("block$", "lose_block"));
    EXPECT_FALSE(lsan_template_match("lose$", "lose_block"));
    EXPECT_TRUE(lsan_template_match("l*e_b", "lose_block"));
    EXPECT_TRUE(lsan_template_match("operator[]", "Foo::operator[](int)"));
}

TEST(Suppressions, MatchesAnyFrameByFunctionModuleOrFile) {
    const std::vector<SymbolizedFrame> stack = {
        frame("malloc_wrapper", "/usr/lib/libwrap.so.1", "/src/wrap.c"),
        frame("parse_config", "/opt/app/bin/app", "/src/app/config.c"),
        frame("main", "/opt/app/bin/app", "/src/app/main.c")};
    auto matches = [&](const std::string& text) {
        SuppressionSet set;
        set.add_text(text, "t");
        return set.match(stack) != nullptr;
    };
    EXPECT_TRUE(matches("function:parse_*"));
    EXPECT_FALSE(matches("function:parse"));
    EXPECT_TRUE(matches("module:libwrap.so*"));
    EXPECT_TRUE(matches("module:/opt/app/*"));
    EXPECT_FALSE(matches("module:app.so"));
    EXPECT_TRUE(matches("file:config.c"));
    EXPECT_TRUE(matches("file:/src/app/*"));
    EXPECT_FALSE(matches("file:app"));
    EXPECT_TRUE(matches("leak:libwrap"));
    EXPECT_TRUE(matches("leak:app/config"));
    EXPECT_FALSE(matches("leak:nothing_like_it"));
    // Unknown frames never match a function pattern.
    SuppressionSet any;
    any.add_text("function:*", "t");
    EXPECT_EQ(any.match({frame("??", "/x")}), nullptr);
    // The first matching rule wins.
    SuppressionSet two;
    two.add_text("function:main\nfunction:parse_config\n", "t");
    EXPECT_EQ(two.match(stack)->origin, "t:1");
}

TEST(Suppressions, ModuleInitMatchesOnlyTheModulesOwnInitializers) {
    SuppressionSet set;
    set.add_text("module-init:libstdc++.so*", "t");
    // libstdc++'s static initializer, run by ld.so at start-up.
    EXPECT_NE(set.match({frame("??", "/lib/x86_64-linux-gnu/libstdc++.so.6"),
                         frame("call_init", "/lib64/ld-linux-x86-64.so.2"),
                         frame("_dl_init", "/lib64/ld-linux-x86-64.so.2")}),
              nullptr);
    // operator new called by another library's constructor: not libstdc++'s own.
    EXPECT_EQ(set.match({frame("operator new(unsigned long)", "/lib/libstdc++.so.6"),
                         frame("Plugin::Plugin()", "/opt/libplugin.so"),
                         frame("call_init", "/lib64/ld-linux-x86-64.so.2")}),
              nullptr);
    // operator new called from main: no initializer at all.
    EXPECT_EQ(set.match({frame("operator new(unsigned long)", "/lib/libstdc++.so.6"),
                         frame("main", "/opt/app")}),
              nullptr);
}

TEST(Suppressions, DefaultSetParses) {
    SuppressionSet set;
    set.add_text(kDefaultSuppressions, kDefaultSuppressionsName);
    EXPECT_GE(set.rules().size(), 10u);
    for (const SuppressionRule& rule : set.rules())
        EXPECT_FALSE(rule.reason.empty()) << rule.origin << ": every default rule says why";
}

} // namespace
} // namespace memtrace
