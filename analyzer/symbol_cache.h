// Symbolized addresses kept across runs, one file per module build-id, so that the next report
// on a program (or on any program, for the C library's start-up frames) does not load debug
// information again: opening libc6-dbg's zlib-compressed DWARF inflates 10 MiB, a quarter of a
// report on a 4-million-event dump.
//
// An entry says which debug file its frames came from (path, size, modification time); a file
// whose source changed or is gone is ignored, and so are the modules symbolized without DWARF
// (installing their debug package later must show). The cache is a memo, never an authority:
// unreadable or damaged files count as empty, and failing to write one is not an error.
#pragma once

#include "symbolizer.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace memtrace {

class SymbolCache {
public:
    // Files go in `dir`; an empty path makes a cache that finds nothing and writes nothing.
    explicit SymbolCache(std::filesystem::path dir);

    // $MEMTRACE_SYMBOL_CACHE when set ("off" or empty: no cache), else
    // $XDG_CACHE_HOME/memtrace/symbols, else $HOME/.cache/memtrace/symbols; empty when none.
    static std::filesystem::path default_dir();

    bool enabled() const {
        return !dir_.empty();
    }

    // The frames cached for the module with this build-id (raw bytes) at this address relative
    // to its load bias, with `module` and `address` left empty; nullptr when none.
    const std::vector<SymbolizedFrame>* find(const std::string& build_id, uint64_t relative);

    // Remembers the frames found for `relative` in the DWARF read from debug_file.
    void add(const std::string& build_id, const std::string& debug_file, uint64_t relative,
             const std::vector<SymbolizedFrame>& frames);

    // Writes the files that gained entries (each replaced whole, through a rename).
    void save();

private:
    struct Source {
        std::string path;
        uint64_t size = 0;
        int64_t mtime_ns = 0;
        bool operator==(const Source&) const = default;
    };
    struct Module {
        bool valid = false; // `source` and `frames` are usable
        bool dirty = false;
        Source source;
        std::unordered_map<uint64_t, std::vector<SymbolizedFrame>> frames;
    };

    Module& module(const std::string& build_id);
    void load(const std::string& build_id, Module& into) const;
    void save(const std::string& build_id, const Module& module) const;
    static bool stat_source(const std::string& path, Source& source);

    std::filesystem::path dir_;
    std::unordered_map<std::string, Module> modules_;
};

} // namespace memtrace
