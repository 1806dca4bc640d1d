// The one exception type for a dump that cannot be read: missing, not a dump, or contradicting
// itself. Its message names the file and, where there is one, the byte offset of the problem.
#pragma once

#include <stdexcept>

namespace memtrace {

class DumpError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace memtrace
