#include "memory_views.h"

#include "suite_paths.h"

#include <cstdlib>
#include <stdexcept>

namespace memtrace::integration {

ProcessResult memory_view_text(const std::string& command, const std::string& dump_argument,
                               const std::filesystem::path& cwd) {
    return run_memtrace({command, dump_argument}, cwd);
}

AnalyzerOutput memory_view_json(const std::string& command, const std::string& dump_argument,
                                const std::filesystem::path& cwd) {
    return memtrace_json({command, dump_argument}, cwd);
}

std::filesystem::path program_source(const std::string& file) {
    const char* dir = std::getenv("PROGRAMS_SOURCE_DIR");
    if (dir == nullptr || dir[0] == '\0')
        throw std::runtime_error("PROGRAMS_SOURCE_DIR is not set; run through meson test");
    return std::filesystem::path(dir) / file;
}

std::map<uint64_t, nlohmann::json> classes_by_max_size(const nlohmann::json& histogram) {
    std::map<uint64_t, nlohmann::json> classes;
    for (const nlohmann::json& c : histogram.at("classes"))
        classes[c.at("max_size").get<uint64_t>()] = c;
    return classes;
}

std::vector<nlohmann::json> doctor_findings(const nlohmann::json& report, const std::string& kind) {
    std::vector<nlohmann::json> found;
    for (const nlohmann::json& f : report.at("doctor").at("findings"))
        if (f.at("kind") == kind) found.push_back(f);
    return found;
}

bool frames_name(const nlohmann::json& frames, const std::string& function) {
    for (const nlohmann::json& frame : frames)
        if (frame.at("function") == function) return true;
    return false;
}

} // namespace memtrace::integration
