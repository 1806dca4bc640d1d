#include "memory/simple_xml.h"

#include <cctype>

namespace memtrace::memory {
namespace {

// malloc_info nests three levels deep; anything far deeper is not malloc_info.
constexpr size_t kMaxDepth = 32;
constexpr size_t kMaxAttributes = 64;

bool is_name_char(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return std::isalnum(byte) != 0 || c == '_' || c == '-' || c == '.' || c == ':';
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {
    }

    XmlElement document() {
        skip_misc();
        if (at_end()) fail("no root element");
        if (peek() != '<') fail("text before the root element");
        XmlElement root = element(0);
        skip_misc();
        if (!at_end()) fail("content after the root element");
        return root;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw XmlError(what + " at byte " + std::to_string(pos_));
    }
    bool at_end() const {
        return pos_ >= text_.size();
    }
    char peek() const {
        return text_[pos_];
    }
    bool starts_with(std::string_view s) const {
        return text_.substr(pos_).starts_with(s);
    }
    void skip_space() {
        while (!at_end() && is_space(peek()))
            ++pos_;
    }
    void skip_past(std::string_view terminator, const char* what) {
        const size_t found = text_.find(terminator, pos_);
        if (found == std::string_view::npos) fail(std::string("unterminated ") + what);
        pos_ = found + terminator.size();
    }
    // Whitespace, comments and processing instructions (<?xml ...?>).
    void skip_misc() {
        for (;;) {
            skip_space();
            if (starts_with("<?")) {
                skip_past("?>", "processing instruction");
            } else if (starts_with("<!--")) {
                skip_past("-->", "comment");
            } else {
                return;
            }
        }
    }
    std::string name() {
        const size_t begin = pos_;
        while (!at_end() && is_name_char(peek()))
            ++pos_;
        if (pos_ == begin) fail("expected a name");
        return std::string(text_.substr(begin, pos_ - begin));
    }
    std::string quoted_value() {
        if (at_end() || (peek() != '"' && peek() != '\'')) fail("expected a quoted value");
        const char quote = peek();
        ++pos_;
        const size_t end = text_.find(quote, pos_);
        if (end == std::string_view::npos) fail("unterminated attribute value");
        std::string value(text_.substr(pos_, end - pos_));
        if (value.find('<') != std::string::npos) fail("'<' inside an attribute value");
        pos_ = end + 1;
        return value;
    }

    XmlElement element(size_t depth) {
        if (depth >= kMaxDepth) fail("elements nested too deeply");
        XmlElement element;
        element.offset = pos_;
        ++pos_; // '<'
        element.name = name();
        for (;;) {
            const size_t before = pos_;
            skip_space();
            if (at_end()) fail("unterminated tag <" + element.name + ">");
            if (starts_with("/>")) {
                pos_ += 2;
                return element;
            }
            if (peek() == '>') {
                ++pos_;
                break;
            }
            if (pos_ == before) fail("expected whitespace before an attribute");
            if (element.attributes.size() >= kMaxAttributes) fail("too many attributes");
            std::string key = name();
            skip_space();
            if (at_end() || peek() != '=') fail("expected '=' after attribute " + key);
            ++pos_;
            skip_space();
            element.attributes.emplace_back(std::move(key), quoted_value());
        }
        content(element, depth);
        return element;
    }

    // Children and text up to the matching end tag.
    void content(XmlElement& parent, size_t depth) {
        for (;;) {
            const size_t next = text_.find('<', pos_);
            if (next == std::string_view::npos) {
                pos_ = text_.size();
                fail("missing </" + parent.name + ">");
            }
            pos_ = next;
            if (starts_with("</")) {
                pos_ += 2;
                const std::string closing = name();
                if (closing != parent.name) fail("</" + closing + "> closes <" + parent.name + ">");
                skip_space();
                if (at_end() || peek() != '>') fail("expected '>'");
                ++pos_;
                return;
            }
            if (starts_with("<!--")) {
                skip_past("-->", "comment");
            } else if (starts_with("<?")) {
                skip_past("?>", "processing instruction");
            } else if (starts_with("<!")) {
                fail("unsupported markup declaration");
            } else {
                parent.children.push_back(element(depth + 1));
            }
        }
    }

    std::string_view text_;
    size_t pos_ = 0;
};

} // namespace

std::optional<std::string_view> XmlElement::attribute(std::string_view key) const {
    for (const auto& [name, value] : attributes)
        if (name == key) return std::string_view(value);
    return std::nullopt;
}

XmlElement parse_xml(std::string_view text) {
    return Parser(text).document();
}

} // namespace memtrace::memory
