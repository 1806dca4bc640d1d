#include "memory/python_arenas.h"

#include <map>
#include <string_view>

namespace memtrace::memory {
namespace {

std::string_view basename_of(std::string_view path) {
    const size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Code that only passes the call on: the preload itself, libc's mmap, the loader.
bool is_plumbing(std::string_view path) {
    const std::string_view name = basename_of(path);
    return name.starts_with("libmemtrace") || name.starts_with("libc.so") ||
           name.starts_with("libc-") || name.starts_with("ld-linux") ||
           name.starts_with("ld64.so") || name.starts_with("libpthread");
}

const ModuleInfo* module_at(const DumpReader& reader, uint64_t address, uint64_t time_ns) {
    for (const ModuleInfo& module : reader.modules()) {
        if (address < module.start || address >= module.end) continue;
        if (time_ns < module.load_time_ns || time_ns >= module.unload_time_ns) continue;
        return &module;
    }
    return nullptr;
}

} // namespace

bool is_python_module(const std::string& path) {
    const std::string_view name = basename_of(path);
    return name.starts_with("python") || name.starts_with("libpython");
}

const ModuleInfo* calling_module(const DumpReader& reader, uint32_t stack_id) {
    const StackTrace* stack = reader.find_stack(stack_id);
    if (stack == nullptr) return nullptr;
    for (const uint64_t address : stack->frames) {
        // Return addresses point after the call; the call itself is one byte before.
        const ModuleInfo* module = module_at(reader, address - 1, stack->time_ns);
        if (module == nullptr) return nullptr;
        if (!is_plumbing(module->path)) return module;
    }
    return nullptr;
}

PythonArenas find_python_arenas(const DumpReader& reader, const std::vector<MappingSite>& sites) {
    PythonArenas arenas;
    std::map<uint64_t, uint64_t> lengths;
    for (const MappingSite& site : sites) {
        const ModuleInfo* module = calling_module(reader, site.stack_id);
        if (module == nullptr || !is_python_module(module->path)) continue;
        if (arenas.module.empty()) arenas.module = module->path;
        arenas.live_bytes += site.live_bytes;
        arenas.live_regions += site.live_regions;
        arenas.stack_ids.push_back(site.stack_id);
        for (const auto& [length, calls] : site.lengths)
            lengths[length] += calls;
    }
    for (const auto& [length, calls] : lengths) {
        if (length >= kMinPymallocArena && calls > arenas.arenas_mapped) {
            arenas.arena_size = length;
            arenas.arenas_mapped = calls;
        }
    }
    arenas.detected = arenas.arenas_mapped != 0;
    return arenas;
}

} // namespace memtrace::memory
