// The malloc_info() capture: a reused stream whose text starts afresh for every capture.
#include "malloc_info_text.h"

#include <gtest/gtest.h>
#include <string>

namespace memtrace::preload {
namespace {

// Into a string with room already: no allocation between two captures changes the heap they
// describe.
void capture(std::string& into) {
    uint32_t length = 0;
    const char* text = capture_malloc_info(&length);
    into.assign(text ? text : "", text ? length : 0);
}

TEST(MallocInfoText, CapturesTheXmlAndStartsAfreshEachTime) {
    ASSERT_TRUE(malloc_info_prepare());
    std::string first;
    std::string second;
    first.reserve(64 * 1024);
    second.reserve(64 * 1024);
    capture(first);
    capture(second);
    ASSERT_LT(second.size(), second.capacity());
    for (const std::string& xml : {first, second}) {
        EXPECT_EQ(xml.rfind("<malloc version=\"1\">", 0), 0u) << xml.substr(0, 80);
        EXPECT_NE(xml.find("</malloc>\n"), std::string::npos);
        EXPECT_EQ(xml.find("<malloc version", 1), std::string::npos); // one document only
    }
    // The same heap twice: the same size of text, not twice as much.
    EXPECT_LT(second.size(), first.size() + first.size() / 2);
}

} // namespace
} // namespace memtrace::preload
