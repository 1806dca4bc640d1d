// A small reader for the XML that glibc's malloc_info() writes: elements with attributes, no
// text content that matters, no namespaces, no DTD. It is strict about structure (every tag
// closed in order) and never trusts the input: depth, size and attribute counts are bounded,
// and every problem is reported as XmlError with the byte offset where it was found.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace memtrace::memory {

class XmlError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct XmlElement {
    std::string name;
    std::vector<std::pair<std::string, std::string>> attributes; // in document order
    std::vector<XmlElement> children;
    size_t offset = 0; // of the '<' that opens it

    // The value of the attribute, or nullopt when the element has none by that name.
    std::optional<std::string_view> attribute(std::string_view key) const;
};

// Parses a document with exactly one root element (an <?xml ...?> declaration, comments and
// whitespace around it are allowed). Throws XmlError.
XmlElement parse_xml(std::string_view text);

} // namespace memtrace::memory
