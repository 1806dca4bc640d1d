#include "growth/dump_selection.h"

#include "dump_error.h"

#include <algorithm>
#include <filesystem>
#include <spdlog/fmt/fmt.h>

namespace memtrace::growth {
namespace {

constexpr std::string_view kEndSelector = "end";
// An error lists at most this many snapshots: the first and the last half of them.
constexpr size_t kListedSnapshots = 20;

bool all_digits(const std::string& text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Labels come from the traced process: keep control characters off the terminal.
std::string quoted(const std::string& label) {
    std::string out = "\"";
    for (const char c : label) {
        const auto byte = static_cast<unsigned char>(c);
        out += (byte < 0x20 || byte == 0x7f) ? '?' : c;
    }
    return out + '"';
}

std::string listing_line(size_t index, const SnapshotListing& snapshot) {
    std::string line =
        fmt::format("\n  @{:<5} {:>10.3f} s  {:<8}", index + 1, snapshot.time_s, snapshot.trigger);
    if (!snapshot.label.empty()) line += ' ' + quoted(snapshot.label);
    return line;
}

std::string listing(const std::string& path, const std::vector<SnapshotListing>& snapshots) {
    if (snapshots.empty()) {
        return fmt::format("{} has no snapshots (take them with MEMTRACE_INTERVAL, the snapshot "
                           "signal or memtrace_snapshot(); see docs/growth.md); {} or {}@end "
                           "selects its final state",
                           path, path, path);
    }
    std::string text = fmt::format("{} has {} snapshot{}:", path, snapshots.size(),
                                   snapshots.size() == 1 ? "" : "s");
    const size_t count = snapshots.size();
    const size_t head = count <= kListedSnapshots ? count : kListedSnapshots / 2;
    for (size_t i = 0; i < head; ++i)
        text += listing_line(i, snapshots[i]);
    if (head < count) {
        const size_t tail_start = count - kListedSnapshots / 2;
        text += fmt::format("\n  ... ({} more)", tail_start - head);
        for (size_t i = tail_start; i < count; ++i)
            text += listing_line(i, snapshots[i]);
    }
    text += "\n  @end   the final state";
    return text;
}

} // namespace

DumpSpec parse_dump_spec(const std::string& argument,
                         const std::function<bool(const std::string&)>& exists) {
    if (argument.find('@') == std::string::npos || exists(argument))
        return {argument, argument, ""};
    for (size_t at = argument.find('@'); at != std::string::npos; at = argument.find('@', at + 1)) {
        const std::string prefix = argument.substr(0, at);
        if (prefix.empty() || !exists(prefix)) continue;
        DumpSpec spec{argument, prefix, argument.substr(at + 1)};
        if (spec.selector.empty()) {
            throw DumpError(fmt::format("{}: nothing after '@'; write {}@N (1-based), {}@LABEL "
                                        "or {}@end",
                                        argument, prefix, prefix, prefix));
        }
        return spec;
    }
    throw DumpError(fmt::format("{}: no such file, and no part before an '@' names an existing "
                                "dump (expected DUMP, DUMP@N, DUMP@LABEL or DUMP@end)",
                                argument));
}

DumpSpec parse_dump_spec(const std::string& argument) {
    return parse_dump_spec(argument, [](const std::string& path) {
        std::error_code error;
        return std::filesystem::exists(path, error);
    });
}

std::optional<size_t> resolve_snapshot(const DumpSpec& spec,
                                       const std::vector<SnapshotListing>& snapshots) {
    const std::string& selector = spec.selector;
    if (selector.empty() || selector == kEndSelector) return std::nullopt;
    if (snapshots.empty()) throw DumpError(listing(spec.path, snapshots));
    if (all_digits(selector)) {
        // Compare as text length first: a number too large for size_t is simply out of range.
        const size_t number =
            selector.size() > 18 ? SIZE_MAX : static_cast<size_t>(std::stoull(selector));
        if (number >= 1 && number <= snapshots.size()) return number - 1;
        throw DumpError(fmt::format("no snapshot number {} (they count from 1): {}", selector,
                                    listing(spec.path, snapshots)));
    }
    for (size_t i = snapshots.size(); i-- > 0;) {
        if (snapshots[i].label == selector) return i;
    }
    throw DumpError(fmt::format("no snapshot labelled {}: {}", quoted(selector),
                                listing(spec.path, snapshots)));
}

std::string describe_selection(const DumpSpec& spec, std::optional<size_t> snapshot,
                               const std::vector<SnapshotListing>& snapshots) {
    if (!snapshot) return fmt::format("{} (final state)", spec.path);
    const SnapshotListing& chosen = snapshots.at(*snapshot);
    std::string text = fmt::format("{}@{} (snapshot {} of {}", spec.path, *snapshot + 1,
                                   *snapshot + 1, snapshots.size());
    if (!chosen.label.empty()) text += ", " + quoted(chosen.label);
    return text + fmt::format(", {}, {:.3f} s)", chosen.trigger, chosen.time_s);
}

} // namespace memtrace::growth
