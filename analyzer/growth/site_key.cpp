#include "growth/site_key.h"

#include <spdlog/fmt/fmt.h>
#include <string_view>

namespace memtrace::growth {
namespace {

// Separators that cannot occur in symbol names or paths we print, so keys never collide.
constexpr char kFieldSeparator = '\x1f';
constexpr char kFrameSeparator = '\x1e';
constexpr const char* kUnknownFunction = "??";
constexpr const char* kExeModule = "<exe>";

// GCC names the copies it specializes "f.isra.0", "f.constprop.1", "f.part.0", "f.cold" (and
// LTO "f.lto_priv.0"): an optimized build's symbol for what another build calls "f".
bool is_clone_suffix(std::string_view part) {
    for (const std::string_view kind :
         {"isra", "constprop", "part", "cold", "lto_priv", "localalias", "clone"}) {
        if (part == kind) return true;
    }
    return !part.empty() && part.find_first_not_of("0123456789") == std::string_view::npos;
}

} // namespace

std::string function_identity(const std::string& function) {
    size_t end = function.size();
    while (true) {
        const size_t dot = function.rfind('.', end == 0 ? 0 : end - 1);
        if (dot == std::string::npos || dot == 0) break;
        if (!is_clone_suffix(std::string_view(function).substr(dot + 1, end - dot - 1))) break;
        end = dot;
    }
    return function.substr(0, end);
}

std::string base_name(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

SiteKeyMaker::SiteKeyMaker(std::string exe_path, std::vector<ModuleInfo> modules)
    : exe_path_(std::move(exe_path)), exe_name_(base_name(exe_path_)),
      modules_(std::move(modules)) {
}

std::string SiteKeyMaker::module_name(const std::string& module_path) const {
    if (module_path.empty()) return "";
    if (!exe_path_.empty() && module_path == exe_path_) return kExeModule;
    return base_name(module_path);
}

uint64_t SiteKeyMaker::module_offset(const SymbolizedFrame& frame) const {
    for (const ModuleInfo& module : modules_) {
        if (module.path == frame.module && frame.address >= module.start &&
            frame.address < module.end) {
            return frame.address - module.start;
        }
    }
    return frame.address; // no module: the address is all there is
}

SiteKeys SiteKeyMaker::keys(const std::vector<SymbolizedFrame>& frames) const {
    SiteKeys keys;
    for (const SymbolizedFrame& frame : frames) {
        const std::string module = module_name(frame.module);
        const bool known = !frame.function.empty() && frame.function != kUnknownFunction;
        const std::string function = known ? function_identity(frame.function) : kUnknownFunction;
        keys.loose += function;
        keys.loose += kFieldSeparator;
        keys.loose += module;
        keys.loose += kFrameSeparator;
        if (known) {
            keys.exact += fmt::format("{}{}{}{}{}:{}", function, kFieldSeparator, module,
                                      kFieldSeparator, base_name(frame.file), frame.line);
        } else {
            keys.exact += fmt::format("{}{}{}+{:x}", kUnknownFunction, kFieldSeparator, module,
                                      module_offset(frame));
        }
        keys.exact += kFrameSeparator;
    }
    return keys;
}

} // namespace memtrace::growth
