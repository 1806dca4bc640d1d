// C++ allocations (named through operator new) and code in a dlopen()ed, later dlclose()d
// plugin.
#include "integration_test.h"

#include <cstdint>
#include <filesystem>
#include <string>

namespace memtrace::integration {
namespace {

using nlohmann::json;

bool in_module(const json& frame, const std::string& module_name) {
    return file_name(frame.at("module").get<std::string>()) == module_name;
}

// The first frame of a site that lies in module_name, or nullptr.
const json* first_frame_in(const json& site, const std::string& module_name) {
    for (const json& frame : site.at("frames"))
        if (in_module(frame, module_name)) return &frame;
    return nullptr;
}

class CxxAndPlugins : public IntegrationTest {};

TEST_F(CxxAndPlugins, NewAndContainersAreNamedDemangled) {
    ProcessResult run = trace("cxx_new");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    json leaks = leaks_json(dump_of("cxx_new")).json;
    SCOPED_TRACE(describe_sites(leaks));
    expect_end(leaks, "exit", true, 0, std::nullopt);

    // Sites that went through cxx_new's own code, keyed by the first frame inside cxx_new.
    // operator new lives in libstdc++, so frame 0 of these sites is operator new itself.
    uint64_t own_bytes = 0;
    uint64_t other_bytes = 0;
    uint64_t other_blocks = 0;
    bool saw_widget = false, saw_numbers = false, saw_values = false, saw_label = false;
    for (const json& site : leaks.at("sites")) {
        const json* own = first_frame_in(site, "cxx_new");
        uint64_t bytes = site.at("bytes").get<uint64_t>();
        if (own == nullptr) {
            // libstdc++'s start-up emergency exception pool: allocated by its initialiser,
            // before main, and kept for the life of the process.
            other_bytes += bytes;
            other_blocks += site.at("count").get<uint64_t>();
            continue;
        }
        own_bytes += bytes;
        EXPECT_EQ(site.at("count").get<uint64_t>(), 1u);
        EXPECT_TRUE(in_module(site.at("frames").at(0), "libstdc++.so.6"));
        EXPECT_EQ(site.at("frames").at(0).at("function").get<std::string>(),
                  "operator new(unsigned long)");
        std::string function = own->at("function").get<std::string>();
        std::string file = file_name(own->at("file").get<std::string>());
        unsigned line = own->at("line").get<unsigned>();
        if (function == "demo::make_widget()") {
            saw_widget = true;
            EXPECT_EQ(bytes, 64u);
            EXPECT_EQ(file, "cxx_new.cpp");
            EXPECT_EQ(line, site_line("cxx_new.cpp", "make_widget"));
        } else if (function == "demo::make_numbers()") {
            saw_numbers = true;
            EXPECT_EQ(bytes, 1000u);
            EXPECT_EQ(file, "cxx_new.cpp");
            EXPECT_EQ(line, site_line("cxx_new.cpp", "make_numbers"));
        } else {
            // Container buffers: the first own frame is a std:: template instance; the
            // function that asked for the buffer is further out.
            const json* filler = nullptr;
            for (const json& frame : site.at("frames"))
                if (frame.at("function").get<std::string>() == "demo::fill_widget(demo::Widget*)")
                    filler = &frame;
            ASSERT_NE(filler, nullptr) << "unexpected own site: " << function;
            unsigned filler_line = filler->at("line").get<unsigned>();
            if (bytes == 1200u) {
                saw_values = true;
                EXPECT_EQ(filler_line, site_line("cxx_new.cpp", "fill_widget_values"));
            } else {
                saw_label = true;
                EXPECT_EQ(bytes, 201u);
                EXPECT_EQ(filler_line, site_line("cxx_new.cpp", "fill_widget_label"));
            }
        }
    }
    EXPECT_TRUE(saw_widget && saw_numbers && saw_values && saw_label);
    EXPECT_EQ(own_bytes, 64u + 1000u + 1200u + 201u);
    expect_totals(leaks, own_bytes + other_bytes, 4 + other_blocks);
}

TEST_F(CxxAndPlugins, SymbolCacheChangesNothingInTheReports) {
    ProcessResult run = trace("cxx_new");
    ASSERT_EQ(run.exit_code(), 0) << run.describe();
    const auto dump = dump_of("cxx_new");
    const auto cache = dir() / "symbol-cache";
    // Without the cache, then filling an empty one, then from it.
    auto analyze = [&](const std::string& command, const std::string& cache_dir) {
        ProcessSpec spec;
        spec.argv = {memtrace_exe().string(), command, dump.string(), "--json"};
        spec.cwd = dir();
        spec.env_overrides["MEMTRACE_SYMBOL_CACHE"] = cache_dir;
        ProcessResult result = run_process(spec);
        EXPECT_EQ(result.exit_code(), 0) << result.describe();
        return result.out;
    };
    for (const std::string command : {"report", "leaks"}) {
        std::filesystem::remove_all(cache);
        const std::string uncached = analyze(command, "off");
        const std::string filling = analyze(command, cache.string());
        ASSERT_TRUE(std::filesystem::exists(cache)) << command << " saved nothing";
        EXPECT_FALSE(std::filesystem::is_empty(cache));
        const std::string cached = analyze(command, cache.string());
        EXPECT_FALSE(uncached.empty());
        EXPECT_EQ(filling, uncached) << command;
        EXPECT_EQ(cached, uncached) << command;
    }
}

TEST_F(CxxAndPlugins, UnloadedPluginIsStillNamed) {
    ProcessResult run = trace("dlopen_leak", {plugin_library().string()});
    ASSERT_TRUE(run.exited()) << run.describe();
    ASSERT_EQ(run.exit_code(), 0) << "13 means the plugin was not unloaded\n" << run.describe();
    json leaks = leaks_json(dump_of("dlopen_leak")).json;
    expect_end(leaks, "exit", true, 0, std::nullopt);
    expect_site(leaks,
                {"plugin_leak", 2 * 777, 2, "plugin.c", "plugin_leak", "libmtplugin.so", "main"});
    // Besides the plugin's blocks, only the dynamic loader's own bookkeeping may stay live:
    // glibc keeps some dlopen tables after dlclose.
    uint64_t loader_bytes = 0;
    uint64_t loader_blocks = 0;
    for (const json& site : leaks.at("sites")) {
        const json& frame0 = site.at("frames").at(0);
        if (frame0.at("function").get<std::string>() == "plugin_leak") continue;
        EXPECT_EQ(file_name(frame0.at("module").get<std::string>()).rfind("ld-linux", 0), 0u)
            << describe_sites(leaks);
        loader_bytes += site.at("bytes").get<uint64_t>();
        loader_blocks += site.at("count").get<uint64_t>();
    }
    expect_totals(leaks, 2 * 777 + loader_bytes, 2 + loader_blocks);
}

} // namespace
} // namespace memtrace::integration
