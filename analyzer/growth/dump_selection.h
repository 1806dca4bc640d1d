// Which state of which dump `memtrace diff` and `memtrace growth` read: DUMP (its final state),
// DUMP@N (the N-th snapshot, 1-based, in time order), DUMP@LABEL (the last snapshot with that
// label) or DUMP@end (the final state). docs/cli.md states the rules; they live here so that
// they can be tested without files.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace memtrace::growth {

struct DumpSpec {
    std::string argument; // as the user wrote it
    std::string path;
    std::string selector; // the text after '@'; empty when the argument is a path alone
};

// Splits a command-line argument into a path and a selector. Paths may contain '@', so:
// an argument that names an existing file is a path alone; otherwise the first '@' whose
// prefix names an existing file splits it (labels may contain '@' too); otherwise an argument
// without '@' is a path alone (the reader then says why it cannot be opened). Throws DumpError
// for an argument with '@' where no prefix exists, and for an empty selector.
DumpSpec parse_dump_spec(const std::string& argument,
                         const std::function<bool(const std::string&)>& exists);
DumpSpec parse_dump_spec(const std::string& argument); // asks the file system

// What the error message lists about each snapshot of the dump.
struct SnapshotListing {
    std::string label;
    std::string trigger; // "interval", "signal", "api", "exit"
    double time_s = 0;   // since the process started
};

// The snapshot a selector names: its index in time order, or nullopt for the final state.
// `snapshots` are the dump's snapshots in time order. A selector of digits only is a 1-based
// number; "end" is the final state; anything else is a label (the last snapshot carrying it).
// Throws DumpError naming the dump and listing its snapshots when none matches.
std::optional<size_t> resolve_snapshot(const DumpSpec& spec,
                                       const std::vector<SnapshotListing>& snapshots);

// "DUMP@3 (snapshot 3 of 11, "after-1000", api, 1.234 s)" or "DUMP (final state)".
std::string describe_selection(const DumpSpec& spec, std::optional<size_t> snapshot,
                               const std::vector<SnapshotListing>& snapshots);

} // namespace memtrace::growth
