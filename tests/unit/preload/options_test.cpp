#include "options.h"

#include <gtest/gtest.h>

namespace {

using memtrace::preload::parse_byte_count;

uint64_t parsed(const char* text) {
    uint64_t value = 12345;
    EXPECT_TRUE(parse_byte_count(text, &value)) << text;
    return value;
}

bool rejects(const char* text) {
    uint64_t value = 12345;
    const bool ok = parse_byte_count(text, &value);
    EXPECT_EQ(value, 12345u) << "a rejected text must leave the output alone: " << text;
    return !ok;
}

TEST(ParseByteCount, AcceptsBytesAndBinarySuffixes) {
    EXPECT_EQ(parsed("0"), 0u);
    EXPECT_EQ(parsed("524288"), 524288u);
    EXPECT_EQ(parsed("512K"), 512u * 1024);
    EXPECT_EQ(parsed("512k"), 512u * 1024);
    EXPECT_EQ(parsed("64KiB"), 64u * 1024);
    EXPECT_EQ(parsed("64kb"), 64u * 1024);
    EXPECT_EQ(parsed("1M"), 1u << 20);
    EXPECT_EQ(parsed("2MiB"), 2u << 20);
    EXPECT_EQ(parsed("1G"), 1ull << 30);
}

TEST(ParseByteCount, RejectsEverythingElse) {
    EXPECT_TRUE(rejects(""));
    EXPECT_TRUE(rejects("K"));
    EXPECT_TRUE(rejects("-1"));
    EXPECT_TRUE(rejects(" 512"));
    EXPECT_TRUE(rejects("512 K"));
    EXPECT_TRUE(rejects("512X"));
    EXPECT_TRUE(rejects("512KX"));
    EXPECT_TRUE(rejects("1.5M"));
    EXPECT_TRUE(rejects("2048G")); // above 2^40
    EXPECT_TRUE(rejects("99999999999999999999999"));
}

} // namespace
