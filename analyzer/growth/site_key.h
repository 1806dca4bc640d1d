// How an allocation site is recognized in another dump: by its symbolized frames, never by
// addresses (ASLR moves them between runs, a rebuild moves them between builds) or stack ids
// (each dump numbers its stacks itself).
//
// Two keys per stack, both built from every frame, innermost first:
//  - the exact key: function, module, source file name and line of each frame;
//  - the loose key: function and module of each frame, for a second matching pass over sites
//    the exact key left alone (a line moved because the source was edited).
// Modules and files are compared by file name, and the traced program's own executable is
// "<exe>" whatever it is called, so two builds in different directories or under different
// names still match. A frame without a function name is its module plus its offset in the
// module (stable across runs of one build; only the loose key matches it across builds).
// Whether a frame was inlined is ignored: an optimizing build may inline what another calls, and
// the suffixes GCC gives to specialized copies ("f.isra.0") are dropped.
#pragma once

#include "symbolizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace memtrace::growth {

struct SiteKeys {
    std::string exact;
    std::string loose;
};

class SiteKeyMaker {
public:
    // exe_path: the traced program as the dump names it (ProcessInfo); modules: the dump's.
    SiteKeyMaker(std::string exe_path, std::vector<ModuleInfo> modules);

    SiteKeys keys(const std::vector<SymbolizedFrame>& frames) const;

private:
    std::string module_name(const std::string& module_path) const;
    uint64_t module_offset(const SymbolizedFrame& frame) const;

    std::string exe_path_;
    std::string exe_name_;
    std::vector<ModuleInfo> modules_;
};

// A function name without the suffixes of compiler-made copies: "f.isra.0", "f.constprop.2",
// "f.part.0", "f.cold" are all "f". Names of C++ functions keep their dots in operators and
// templates ("operator." does not exist; digits-only parts after a dot occur only in clones).
std::string function_identity(const std::string& function);

// The part of a path after its last '/'.
std::string base_name(const std::string& path);

} // namespace memtrace::growth
