#include "leak_expectations.h"

#include "suite_paths.h"

#include <algorithm>
#include <cstdint>
#include <gtest/gtest.h>
#include <sstream>

namespace memtrace::integration {

using nlohmann::json;

std::string file_name(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

namespace {

std::string frame0_function(const json& site) {
    const json& frames = site.at("frames");
    if (frames.empty()) return "<no frames>";
    return frames.at(0).at("function").get<std::string>();
}

} // namespace

std::vector<json> sites_at(const json& leaks, const std::string& function) {
    std::vector<json> found;
    for (const json& site : leaks.at("sites"))
        if (frame0_function(site) == function) found.push_back(site);
    return found;
}

std::string describe_sites(const json& leaks) {
    std::ostringstream out;
    out << "total_bytes=" << leaks.value("total_bytes", json()).dump()
        << " total_blocks=" << leaks.value("total_blocks", json()).dump() << "\n";
    for (const json& site : leaks.value("sites", json::array())) {
        out << "  site bytes=" << site.value("bytes", json()).dump()
            << " count=" << site.value("count", json()).dump() << "\n";
        for (const json& frame : site.value("frames", json::array()))
            out << "    " << frame.value("function", std::string("?")) << "  "
                << file_name(frame.value("file", std::string())) << ":"
                << frame.value("line", json()).dump() << "  ["
                << file_name(frame.value("module", std::string())) << "]\n";
    }
    return out.str();
}

void expect_kind_consistent(const json& leaks, const json& site) {
    const std::string kind = site.at("kind").get<std::string>();
    if (leaks.at("scan").at("status").get<std::string>() == "complete") {
        EXPECT_TRUE(kind == "definite" || kind == "indirect" || kind == "reachable" ||
                    kind == "live")
            << kind;
    } else {
        EXPECT_EQ(kind, "live") << "no completed scan: every block is live";
    }
}

void expect_site(const json& leaks, const ExpectedSite& expected) {
    SCOPED_TRACE("site " + expected.function + "\n" + describe_sites(leaks));
    std::vector<json> found = sites_at(leaks, expected.function);
    ASSERT_EQ(found.size(), 1u) << "sites with frame 0 = " << expected.function;
    const json& site = found.front();
    EXPECT_EQ(site.at("bytes").get<uint64_t>(), expected.bytes);
    EXPECT_EQ(site.at("count").get<uint64_t>(), expected.count);
    expect_kind_consistent(leaks, site);
    EXPECT_GT(site.at("stack_id").get<uint64_t>(), 0u);
    EXPECT_FALSE(site.at("truncated").get<bool>());
    const json& frame = site.at("frames").at(0);
    EXPECT_EQ(file_name(frame.at("file").get<std::string>()), expected.source_file);
    EXPECT_EQ(frame.at("file").get<std::string>().front(), '/') << "file must be a full path";
    if (!expected.marker.empty()) {
        EXPECT_EQ(frame.at("line").get<unsigned>(),
                  site_line(expected.source_file, expected.marker));
    }
    EXPECT_EQ(file_name(frame.at("module").get<std::string>()), expected.module);
    EXPECT_FALSE(frame.at("inlined").get<bool>());
    EXPECT_EQ(frame.at("address").get<std::string>().rfind("0x", 0), 0u);
    if (!expected.caller.empty()) {
        ASSERT_GE(site.at("frames").size(), 2u);
        EXPECT_EQ(site.at("frames").at(1).at("function").get<std::string>(), expected.caller);
    }
}

void expect_site_functions(const json& leaks, std::vector<std::string> functions) {
    std::vector<std::string> actual;
    for (const json& site : leaks.at("sites"))
        actual.push_back(frame0_function(site));
    std::sort(actual.begin(), actual.end());
    std::sort(functions.begin(), functions.end());
    EXPECT_EQ(actual, functions) << describe_sites(leaks);
}

void expect_totals(const json& leaks, uint64_t bytes, uint64_t blocks) {
    EXPECT_EQ(leaks.at("total_bytes").get<uint64_t>(), bytes) << describe_sites(leaks);
    EXPECT_EQ(leaks.at("total_blocks").get<uint64_t>(), blocks) << describe_sites(leaks);
    uint64_t site_bytes = 0;
    uint64_t site_blocks = 0;
    for (const json& site : leaks.at("sites")) {
        site_bytes += site.at("bytes").get<uint64_t>();
        site_blocks += site.at("count").get<uint64_t>();
    }
    EXPECT_EQ(site_bytes, bytes) << "sum over sites";
    EXPECT_EQ(site_blocks, blocks) << "sum over sites";
}

void expect_largest_first(const json& leaks) {
    uint64_t previous = UINT64_MAX;
    for (const json& site : leaks.at("sites")) {
        uint64_t bytes = site.at("bytes").get<uint64_t>();
        EXPECT_LE(bytes, previous) << describe_sites(leaks);
        previous = bytes;
    }
}

void expect_end(const json& doc, const std::string& how, bool complete, std::optional<int> code,
                std::optional<int> signal) {
    SCOPED_TRACE("end = " + doc.value("end", json()).dump() +
                 ", complete = " + doc.value("complete", json()).dump());
    EXPECT_EQ(doc.at("complete").get<bool>(), complete);
    const json& end = doc.at("end");
    EXPECT_EQ(end.at("how").get<std::string>(), how);
    if (code) {
        EXPECT_EQ(end.at("code").get<int>(), *code);
    }
    if (signal) {
        EXPECT_EQ(end.at("signal").get<int>(), *signal);
    }
}

} // namespace memtrace::integration
