#include "process_maps.h"

#include <cstring>
#include <gtest/gtest.h>

namespace {

namespace mp = memtrace::preload;

TEST(ProcessMaps, ParsesPermissionsAndNames) {
    const char text[] =
        "55d0a1a00000-55d0a1a21000 rw-p 00000000 00:00 0                          [heap]\n"
        "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
        "7f0000100000-7f0000101000 r--p 00001000 fe:00 123   /usr/lib/libc.so.6\n"
        "7f0000200000-7f0000300000 rw-s 00000000 fe:00 9     /tmp/x.mtd\n"
        "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n"
        "garbage line\n"
        "7f0000400000-7f0000401000 rw-p 00000000 00:00 0   [anon:thing]";
    mp::Mapping out[8];
    const size_t n = mp::parse_process_maps(text, strlen(text), out, 8);
    ASSERT_EQ(n, 6u);
    EXPECT_EQ(out[0].begin, 0x55d0a1a00000u);
    EXPECT_EQ(out[0].end, 0x55d0a1a21000u);
    EXPECT_EQ(out[0].name, mp::MappingName::Heap);
    EXPECT_TRUE(out[0].writable && out[0].is_private && out[0].readable);
    EXPECT_EQ(out[1].name, mp::MappingName::Anonymous);
    EXPECT_FALSE(out[2].writable);
    EXPECT_EQ(out[2].name, mp::MappingName::Other);
    EXPECT_FALSE(out[3].is_private);
    EXPECT_EQ(out[4].name, mp::MappingName::Stack);
    EXPECT_EQ(out[5].begin, 0x7f0000400000u);
    EXPECT_EQ(out[5].name, mp::MappingName::Other);
}

TEST(ProcessMaps, ReadsTheRealFile) {
    mp::ScanArena arena;
    mp::ProcessMaps maps;
    ASSERT_TRUE(mp::read_process_maps(arena, &maps));
    // This very function's stack is in some mapping.
    int local = 0;
    const auto here = reinterpret_cast<uintptr_t>(&local);
    bool found = false;
    for (size_t i = 0; i < maps.count; ++i)
        found |= maps.mappings[i].begin <= here && here < maps.mappings[i].end;
    EXPECT_TRUE(found);
}

} // namespace
