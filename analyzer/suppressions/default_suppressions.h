// The default suppression set (analyzer/suppressions/default.supp), compiled in so that it is
// always there, and installed as <datadir>/memtrace/default.supp for users to read.
#pragma once

namespace memtrace {

extern const char* const kDefaultSuppressions;
inline constexpr const char* kDefaultSuppressionsName = "default.supp";

} // namespace memtrace
