// Site keys: what makes two stacks of different runs or builds the same allocation site.
#include "growth/site_key.h"

#include <gtest/gtest.h>

namespace memtrace::growth {
namespace {

SymbolizedFrame frame(std::string function, std::string file, uint32_t line, std::string module,
                      uint64_t address, bool inlined = false) {
    SymbolizedFrame f;
    f.function = std::move(function);
    f.file = std::move(file);
    f.line = line;
    f.module = std::move(module);
    f.address = address;
    f.inlined = inlined;
    return f;
}

ModuleInfo module(std::string path, uint64_t start, uint64_t end) {
    ModuleInfo m;
    m.path = std::move(path);
    m.start = start;
    m.end = end;
    return m;
}

TEST(SiteKey, AddressesDoNotMatter) {
    const SiteKeyMaker run1("/b1/server", {});
    const SiteKeyMaker run2("/b1/server", {});
    const SiteKeys k1 = run1.keys({frame("cache_put", "/src/cache.c", 40, "/b1/server", 0x5501),
                                   frame("main", "/src/main.c", 9, "/b1/server", 0x5602)});
    const SiteKeys k2 = run2.keys({frame("cache_put", "/src/cache.c", 40, "/b1/server", 0x7f01),
                                   frame("main", "/src/main.c", 9, "/b1/server", 0x7f99)});
    EXPECT_EQ(k1.exact, k2.exact);
    EXPECT_EQ(k1.loose, k2.loose);
}

TEST(SiteKey, ExecutableNameAndDirectoriesDoNotMatter) {
    // Two builds of one source: other build directories, other executable names.
    const SiteKeyMaker o0("/build-o0/tests/server_o0", {});
    const SiteKeyMaker o2("/home/me/build-o2/server_o2", {});
    const SiteKeys k1 =
        o0.keys({frame("malloc_wrapper", "/checkout1/src/x.c", 7, "/usr/lib/libfoo.so.1", 1),
                 frame("main", "/checkout1/src/main.c", 9, "/build-o0/tests/server_o0", 2)});
    const SiteKeys k2 =
        o2.keys({frame("malloc_wrapper", "/checkout2/src/x.c", 7, "/opt/lib/libfoo.so.1", 3),
                 frame("main", "/checkout2/src/main.c", 9, "/home/me/build-o2/server_o2", 4)});
    EXPECT_EQ(k1.exact, k2.exact);
}

TEST(SiteKey, InliningDoesNotMatter) {
    const SiteKeyMaker maker("/a/p", {});
    EXPECT_EQ(
        maker.keys({frame("helper", "h.c", 3, "/a/p", 10, true), frame("f", "f.c", 8, "/a/p", 10)})
            .exact,
        maker.keys({frame("helper", "h.c", 3, "/a/p", 20), frame("f", "f.c", 8, "/a/p", 30)})
            .exact);
}

TEST(SiteKey, CompilerClonesAreTheirFunction) {
    EXPECT_EQ(function_identity("cache_store.constprop.0"), "cache_store");
    EXPECT_EQ(function_identity("parse.isra.0"), "parse");
    EXPECT_EQ(function_identity("f.part.0.cold"), "f");
    EXPECT_EQ(function_identity("main.cold"), "main");
    EXPECT_EQ(function_identity("g.lto_priv.0"), "g");
    EXPECT_EQ(function_identity("plain"), "plain");
    EXPECT_EQ(function_identity("ns::Type::method(int) const"), "ns::Type::method(int) const");
    EXPECT_EQ(function_identity("version.2.major"), "version.2.major");
    EXPECT_EQ(function_identity(".5"), ".5");
    const SiteKeyMaker maker("/a/p", {});
    EXPECT_EQ(maker.keys({frame("cache_store.constprop.0", "c.c", 4, "/a/p", 1)}).exact,
              maker.keys({frame("cache_store", "c.c", 4, "/a/p", 2)}).exact);
}

TEST(SiteKey, LinesSeparateExactKeysButNotLooseOnes) {
    const SiteKeyMaker maker("/a/p", {});
    const SiteKeys line9 = maker.keys({frame("main", "main.c", 9, "/a/p", 1)});
    const SiteKeys line10 = maker.keys({frame("main", "main.c", 10, "/a/p", 1)});
    EXPECT_NE(line9.exact, line10.exact);
    EXPECT_EQ(line9.loose, line10.loose);
}

TEST(SiteKey, FunctionsModulesAndDepthSeparateSites) {
    const SiteKeyMaker maker("/a/p", {});
    const SiteKeys base = maker.keys({frame("f", "x.c", 1, "/a/p", 1)});
    EXPECT_NE(base.loose, maker.keys({frame("g", "x.c", 1, "/a/p", 1)}).loose);
    EXPECT_NE(base.loose, maker.keys({frame("f", "x.c", 1, "/a/libq.so", 1)}).loose);
    EXPECT_NE(
        base.loose,
        maker.keys({frame("f", "x.c", 1, "/a/p", 1), frame("main", "m.c", 2, "/a/p", 2)}).loose);
    // A frame boundary is not a character that a function name can fake.
    EXPECT_NE(maker.keys({frame("ab", "", 0, "", 1)}).exact,
              maker.keys({frame("a", "", 0, "", 1), frame("b", "", 0, "", 1)}).exact);
}

TEST(SiteKey, UnknownFunctionsAreTheirOffsetInTheModule) {
    // The same library loaded at two addresses (ASLR): same offset, same site.
    const SiteKeyMaker run1("/a/p", {module("/lib/libx.so", 0x10000, 0x20000)});
    const SiteKeyMaker run2("/a/p", {module("/lib/libx.so", 0x70000, 0x80000)});
    const SiteKeys k1 = run1.keys({frame("??", "", 0, "/lib/libx.so", 0x10123)});
    const SiteKeys k2 = run2.keys({frame("??", "", 0, "/lib/libx.so", 0x70123)});
    const SiteKeys other = run2.keys({frame("??", "", 0, "/lib/libx.so", 0x70200)});
    EXPECT_EQ(k1.exact, k2.exact);
    EXPECT_NE(k1.exact, other.exact);
    EXPECT_EQ(k1.loose, other.loose);
}

} // namespace
} // namespace memtrace::growth
