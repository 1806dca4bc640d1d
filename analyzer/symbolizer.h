// Offline symbolization of the return addresses recorded in a dump, with elfutils libdw.
//
// Usage: build a Symbolizer from every ModuleLoad/ModuleUnload the dump holds, then ask for the
// frames of a return address as seen at some time. Work is cached per module and per address,
// so asking again is cheap. Modules are opened by path from the disk: a library that the process
// dlclose()d is still symbolized, as long as the file is still there. A module whose file is gone
// or whose build-id differs from the recorded one gives frames with only `module` and `address`
// (the latter case once warned about through spdlog).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace memtrace {

// One mapping of an ELF object in the traced process, as recorded in the dump.
struct ModuleInfo {
    uint32_t id = 0;
    std::string path;       // absolute path as the process saw it
    std::string build_id;   // raw bytes (may be empty)
    uint64_t load_bias = 0; // dlpi_addr: runtime address = ELF vaddr + load_bias
    uint64_t start = 0;     // lowest runtime address of its PT_LOAD segments
    uint64_t end = 0;       // one past the highest
    uint64_t load_time_ns = 0;
    uint64_t unload_time_ns = UINT64_MAX; // UINT64_MAX while still loaded at the dump's end
};

// One source-level frame. A return address yields one or more: its inlined callees first
// (innermost first), then the function that contains the call.
struct SymbolizedFrame {
    std::string function; // demangled; "??" when unknown
    std::string file;     // full path as in the debug info; empty when unknown
    uint32_t line = 0;    // 0 when unknown
    uint32_t column = 0;
    std::string module;   // path of the module; empty when no module covers the address
    uint64_t address = 0; // the runtime return address as recorded
    bool inlined = false; // true for frames that were inlined into the next one
};

class Symbolizer {
public:
    // With a cache_dir, symbolized addresses are also looked up in and saved to the symbol
    // cache there (symbol_cache.h; the reports pass SymbolCache::default_dir()).
    explicit Symbolizer(std::vector<ModuleInfo> modules, std::filesystem::path cache_dir = {});
    ~Symbolizer(); // saves the cache's new entries
    Symbolizer(const Symbolizer&) = delete;
    Symbolizer& operator=(const Symbolizer&) = delete;

    // Frames for a return address captured at time_ns (CLOCK_MONOTONIC ns, as in the dump).
    // Looks up address - 1 so that the call instruction, not the next line, is named.
    // Never throws for a bad address; unknown parts are left empty.
    std::vector<SymbolizedFrame> symbolize(uint64_t address, uint64_t time_ns);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace memtrace
