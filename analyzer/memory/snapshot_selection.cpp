#include "memory/snapshot_selection.h"

#include <charconv>
#include <filesystem>

namespace memtrace::memory {

DumpSelection split_dump_selection(const std::string& argument) {
    std::error_code ignored;
    const size_t at = argument.rfind('@');
    if (at == std::string::npos || std::filesystem::exists(argument, ignored))
        return {argument, ""};
    return {argument.substr(0, at), argument.substr(at + 1)};
}

std::optional<size_t> resolve_snapshot(const DumpReader& reader, const std::string& selector) {
    if (selector.empty() || selector == "end") return std::nullopt;
    const auto& snapshots = reader.snapshots();
    size_t number = 0;
    const auto [end, error] =
        std::from_chars(selector.data(), selector.data() + selector.size(), number);
    if (error == std::errc() && end == selector.data() + selector.size()) {
        if (number == 0 || number > snapshots.size()) {
            throw DumpError(reader.path() + ": no snapshot " + selector + " (the dump has " +
                            std::to_string(snapshots.size()) + "; they count from 1)");
        }
        return number - 1;
    }
    for (size_t i = snapshots.size(); i-- > 0;)
        if (snapshots[i].label == selector) return i;
    throw DumpError(reader.path() + ": no snapshot labelled '" + selector + "'");
}

} // namespace memtrace::memory
