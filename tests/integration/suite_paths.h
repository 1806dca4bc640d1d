// Where the things under test are. Meson passes every path through the environment (see
// tests/integration/meson.build), so the driver never guesses a build layout.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace memtrace::integration {

std::filesystem::path memtrace_exe();                   // $MEMTRACE_EXE
std::filesystem::path memtrace_lib();                   // $MEMTRACE_LIB
std::filesystem::path program(const std::string& name); // $PROGRAMS_DIR/name
std::filesystem::path plugin_library();                 // the shared object dlopen_leak loads
std::optional<std::filesystem::path> static_target();   // $STATIC_TARGET, unset when not built

// The 1-based line of tests/programs/<file> that contains "/* site: <marker> */": the line of
// the allocating call the analyzer must name.
unsigned site_line(const std::string& file, const std::string& marker);

} // namespace memtrace::integration
