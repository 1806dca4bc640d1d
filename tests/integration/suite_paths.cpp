#include "suite_paths.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace memtrace::integration {

namespace {

std::string required_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || value[0] == '\0')
        throw std::runtime_error(std::string(name) +
                                 " is not set; run the integration tests through meson test");
    return value;
}

} // namespace

std::filesystem::path memtrace_exe() {
    return required_env("MEMTRACE_EXE");
}

std::filesystem::path memtrace_lib() {
    return required_env("MEMTRACE_LIB");
}

std::filesystem::path program(const std::string& name) {
    return std::filesystem::path(required_env("PROGRAMS_DIR")) / name;
}

std::filesystem::path plugin_library() {
    return program("libmtplugin.so");
}

std::optional<std::filesystem::path> static_target() {
    const char* value = std::getenv("STATIC_TARGET");
    if (value == nullptr || value[0] == '\0') return std::nullopt;
    return std::filesystem::path(value);
}

unsigned site_line(const std::string& file, const std::string& marker) {
    std::filesystem::path path = std::filesystem::path(required_env("PROGRAMS_SOURCE_DIR")) / file;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    const std::string needle = "/* site: " + marker + " */";
    std::string line;
    for (unsigned number = 1; std::getline(in, line); ++number)
        if (line.find(needle) != std::string::npos) return number;
    throw std::runtime_error("no marker '" + needle + "' in " + path.string());
}

} // namespace memtrace::integration
