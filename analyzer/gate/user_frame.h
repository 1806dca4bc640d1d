// Where a leak "is" for tools that point at source lines (SARIF, GitHub annotations): the first
// frame of its stack inside the user's own code rather than in the C or C++ runtime, the
// dynamic loader, memtrace, or another library installed in the system's library directories.
#pragma once

#include "symbolizer.h"

#include <string>
#include <vector>

namespace memtrace::gate {

// libc, libstdc++, libgcc_s, ld-linux, libm, libpthread, libdl, librt, libmemtrace, or any
// module under /lib, /lib64, /usr/lib, /usr/lib64.
bool is_runtime_module(const std::string& module_path);

// The first frame outside runtime modules that has a source file; else the first frame outside
// runtime modules; else frame 0; nullptr for an empty stack.
const SymbolizedFrame* first_user_frame(const std::vector<SymbolizedFrame>& frames);

// `path` relative to `root` when it lies under it, else unchanged. Both absolute, or the path
// is returned as is.
std::string relative_to_root(const std::string& path, const std::string& root);

// "function (file:line)" or "function (module)" for one-line messages.
std::string frame_label(const SymbolizedFrame& frame);

} // namespace memtrace::gate
