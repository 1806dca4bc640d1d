#include "gate/user_frame.h"

#include <array>
#include <filesystem>
#include <string_view>

namespace memtrace::gate {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

} // namespace

bool is_runtime_module(const std::string& module_path) {
    static constexpr std::array<std::string_view, 4> kSystemDirs = {"/lib/", "/lib64/", "/usr/lib/",
                                                                    "/usr/lib64/"};
    for (const std::string_view dir : kSystemDirs) {
        if (starts_with(module_path, dir)) return true;
    }
    static constexpr std::array<std::string_view, 9> kRuntimeNames = {
        "libc.so",       "libstdc++.so", "libgcc_s.so", "ld-linux",      "libm.so",
        "libpthread.so", "libdl.so",     "librt.so",    "libmemtrace.so"};
    const auto slash = module_path.rfind('/');
    const std::string_view name =
        std::string_view(module_path).substr(slash == std::string::npos ? 0 : slash + 1);
    for (const std::string_view runtime : kRuntimeNames) {
        if (starts_with(name, runtime)) return true;
    }
    return false;
}

const SymbolizedFrame* first_user_frame(const std::vector<SymbolizedFrame>& frames) {
    const SymbolizedFrame* without_source = nullptr;
    for (const SymbolizedFrame& frame : frames) {
        if (is_runtime_module(frame.module)) continue;
        if (!frame.file.empty()) return &frame;
        if (without_source == nullptr) without_source = &frame;
    }
    if (without_source != nullptr) return without_source;
    return frames.empty() ? nullptr : &frames.front();
}

std::string relative_to_root(const std::string& path, const std::string& root) {
    if (root.empty() || path.empty() || path.front() != '/') return path;
    // Debug info often says "<build>/../src/x.c"; compare the normal forms.
    const std::string normal = std::filesystem::path(path).lexically_normal().string();
    std::string prefix = std::filesystem::path(root).lexically_normal().string();
    if (prefix.empty() || prefix.back() != '/') prefix += '/';
    if (starts_with(normal, prefix)) return normal.substr(prefix.size());
    return path;
}

std::string frame_label(const SymbolizedFrame& frame) {
    std::string label = frame.function;
    if (!frame.file.empty()) {
        label += " (" + frame.file;
        if (frame.line != 0) {
            label += ':';
            label += std::to_string(frame.line);
        }
        label += ")";
    } else if (!frame.module.empty()) {
        label += " (" + frame.module + ")";
    }
    return label;
}

} // namespace memtrace::gate
