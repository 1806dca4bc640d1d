// The malloc_info() XML reader, on output captured from glibc 2.36 on Debian 12 and on broken
// input.
#include "memory/malloc_info.h"

#include <gtest/gtest.h>
#include <string>

namespace memtrace::memory {
namespace {

// malloc_info(0, stdout) of a program whose six threads each allocated 100 blocks of 100..3763
// bytes, freed every other one and kept a 200000-byte block, after main kept 1 MiB. The same
// process's mallinfo2() said: arena=888832 fordblks=290080 hblkhd=2256896 hblks=7
// fsmblks=112 (some <size> lines are left out; glibc's totals do not depend on them).
constexpr const char* kTwoArenas = R"(<malloc version="1">
<heap nr="0">
<sizes>
</sizes>
<total type="fast" count="0" size="0"/>
<total type="rest" count="1" size="128672"/>
<system type="current" size="135168"/>
<system type="max" size="135168"/>
<aspace type="total" size="135168"/>
<aspace type="mprotect" size="135168"/>
</heap>
<heap nr="1">
<sizes>
  <size from="97" to="112" total="112" count="1"/>
  <size from="33" to="33" total="957" count="29"/>
  <size from="3601" to="3745" total="22022" count="6"/>
  <unsorted from="193" to="1009" total="9696" count="16"/>
</sizes>
<total type="fast" count="1" size="112"/>
<total type="rest" count="128" size="161423"/>
<system type="current" size="753664"/>
<system type="max" size="753664"/>
<aspace type="total" size="753664"/>
<aspace type="mprotect" size="753664"/>
<aspace type="subheaps" size="1"/>
</heap>
<total type="fast" count="1" size="112"/>
<total type="rest" count="129" size="290095"/>
<total type="mmap" count="7" size="2256896"/>
<system type="current" size="888832"/>
<system type="max" size="888832"/>
<aspace type="total" size="888832"/>
<aspace type="mprotect" size="888832"/>
</malloc>
)";

TEST(MallocInfo, ReadsEveryArenaAndAgreesWithMallinfo2) {
    const MallocInfo info = parse_malloc_info(kTwoArenas);
    ASSERT_EQ(info.arenas.size(), 2u);

    const ArenaUsage& main_arena = info.arenas[0];
    EXPECT_EQ(main_arena.number, 0u);
    EXPECT_EQ(main_arena.system_bytes, 135168u);
    EXPECT_EQ(main_arena.free_bytes(), 128672u); // the top chunk alone
    EXPECT_EQ(main_arena.in_use_bytes(), 135168u - 128672u);
    EXPECT_EQ(main_arena.subheaps, 0u);

    const ArenaUsage& thread_arena = info.arenas[1];
    EXPECT_EQ(thread_arena.number, 1u);
    EXPECT_EQ(thread_arena.fast_chunks, 1u);
    EXPECT_EQ(thread_arena.fast_bytes, 112u);
    EXPECT_EQ(thread_arena.rest_chunks, 128u);
    // 161423 as printed, less one PREV_INUSE bit for each of the 127 binned chunks.
    EXPECT_EQ(thread_arena.rest_bytes, 161296u);
    EXPECT_EQ(thread_arena.subheaps, 1u);
    // Every listed bin averages below 4096 bytes a chunk.
    EXPECT_EQ(thread_arena.small_free_chunks, 1u + 29u + 6u + 16u);
    EXPECT_EQ(thread_arena.small_free_bytes, 112u + 957u + 22022u + 9696u);

    EXPECT_EQ(info.system_bytes(), 888832u);           // mallinfo2().arena
    EXPECT_EQ(info.free_bytes(), 290080u);             // mallinfo2().fordblks
    EXPECT_EQ(info.mmapped_bytes, 2256896u);           // mallinfo2().hblkhd
    EXPECT_EQ(info.mmapped_chunks, 7u);                // mallinfo2().hblks
    EXPECT_EQ(info.in_use_bytes(), 888832u - 290080u); // mallinfo2().uordblks
    EXPECT_EQ(info.subheaps(), 1u);
}

TEST(MallocInfo, AcceptsDeclarationCommentsAndUnknownElements) {
    const MallocInfo info = parse_malloc_info(
        "<?xml version=\"1.0\"?>\n<!-- x -->\n<malloc version='2'>\n"
        "<heap nr=\"3\"><future a=\"b\"><deeper/></future>"
        "<system type=\"current\" size=\"4096\"/></heap>\n<novelty/>\n</malloc>\n");
    ASSERT_EQ(info.arenas.size(), 1u);
    EXPECT_EQ(info.arenas[0].number, 3u);
    EXPECT_EQ(info.arenas[0].system_bytes, 4096u);
    EXPECT_EQ(info.arenas[0].free_bytes(), 0u);
    EXPECT_EQ(info.mmapped_chunks, 0u);
}

TEST(MallocInfo, NoArenasIsNotAnError) {
    EXPECT_TRUE(parse_malloc_info("<malloc version=\"1\"></malloc>").arenas.empty());
}

std::string error_of(const std::string& xml) {
    try {
        parse_malloc_info(xml);
    } catch (const MallocInfoError& error) {
        return error.what();
    }
    return "(no error)";
}

TEST(MallocInfo, BrokenInputIsAnErrorThatSaysWhereAndWhat) {
    EXPECT_EQ(error_of(""), "malformed XML: no root element at byte 0");
    EXPECT_EQ(error_of("<malloc>"), "malformed XML: missing </malloc> at byte 8");
    EXPECT_EQ(error_of("<malloc><heap nr=\"0\"></malloc>"),
              "malformed XML: </malloc> closes <heap> at byte 29");
    EXPECT_EQ(error_of("<malloc><heap nr=\"0<1\"/></malloc>"),
              "malformed XML: '<' inside an attribute value at byte 18");
    EXPECT_EQ(error_of("<malloc><heap nr=\"0/>"),
              "malformed XML: unterminated attribute value at byte 18");
    EXPECT_EQ(error_of("<malloc><heap nr=0/></malloc>"),
              "malformed XML: expected a quoted value at byte 17");
    EXPECT_EQ(error_of("<malloc/>trailing"),
              "malformed XML: content after the root element at byte 9");
    EXPECT_EQ(error_of("<heap nr=\"0\"/>"), "<heap> at byte 0: the root element is not <malloc>");
    EXPECT_EQ(error_of("<malloc><heap><system type=\"current\" size=\"1\"/></heap></malloc>"),
              "<heap> at byte 8: no nr attribute");
    EXPECT_EQ(error_of("<malloc><heap nr=\"0\"><system type=\"current\" size=\"-1\"/></heap>"
                       "</malloc>"),
              "<system> at byte 21: size=\"-1\" is not a byte count");
    EXPECT_EQ(error_of("<malloc><heap nr=\"0\"><system type=\"current\" "
                       "size=\"99999999999999999999\"/></heap></malloc>"),
              "<system> at byte 21: size=\"99999999999999999999\" is not a byte count");
    EXPECT_EQ(error_of("<malloc><heap nr=\"0\"></heap></malloc>"),
              "<heap> at byte 8: no <system type=\"current\"> element");
    EXPECT_EQ(error_of("<malloc><total count=\"1\"/></malloc>"),
              "<total> at byte 8: no type attribute");
}

TEST(MallocInfo, DeepNestingIsRejectedNotRecursedInto) {
    std::string xml = "<malloc>";
    for (int i = 0; i < 10000; ++i)
        xml += "<a>";
    const std::string error = error_of(xml);
    EXPECT_NE(error.find("nested too deeply"), std::string::npos) << error;
}

TEST(MallocInfo, EveryTruncationOfRealOutputIsAnError) {
    const std::string whole = kTwoArenas;
    // Cut before the final "</malloc>\n": every shorter prefix is unfinished XML.
    const size_t end_of_root = whole.rfind("</malloc>");
    for (size_t length = 0; length < end_of_root + 8; ++length) {
        const std::string prefix = whole.substr(0, length);
        EXPECT_THROW(parse_malloc_info(prefix), MallocInfoError) << "length " << length;
    }
}

} // namespace
} // namespace memtrace::memory
