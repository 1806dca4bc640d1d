// SymbolCache on its own: what it keeps, what makes it forget, and what it does with files it
// did not write the way it writes them.
#include "symbol_cache.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace memtrace {
namespace {

namespace fs = std::filesystem;

const std::string kBuildId("\x12\x34\xab\xcd", 4);
const std::string kBuildIdHex = "1234abcd";

class SymbolCacheTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::path(::testing::TempDir()) /
                ("memtrace_symbol_cache_" + std::to_string(getpid()) + "_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        fs::create_directories(root_);
        dir_ = root_ / "cache";
        debug_file_ = (root_ / "module.debug").string();
        write_file(debug_file_, "debug information");
    }
    void TearDown() override {
        fs::remove_all(root_);
    }
    static void write_file(const std::string& path, const std::string& content) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    }
    static std::vector<SymbolizedFrame> two_frames() {
        SymbolizedFrame inlined;
        inlined.function = "std::vector<int, std::allocator<int> >::push_back(int const&)";
        inlined.file = "/usr/include/c++/12/bits/stl_vector.h";
        inlined.line = 1287;
        inlined.column = 9;
        inlined.inlined = true;
        inlined.module = "/bin/program";
        inlined.address = 0x5555deadbeef;
        SymbolizedFrame caller;
        caller.function = "main";
        caller.file = "/src/main.cpp";
        caller.line = 42;
        caller.module = "/bin/program";
        caller.address = 0x5555deadbeef;
        return {inlined, caller};
    }

    fs::path root_;
    fs::path dir_;
    std::string debug_file_;
};

TEST_F(SymbolCacheTest, SavedFramesAreFoundByTheNextCacheWithoutModuleAndAddress) {
    {
        SymbolCache cache(dir_);
        cache.add(kBuildId, debug_file_, 0x1234, two_frames());
        EXPECT_NE(cache.find(kBuildId, 0x1234), nullptr); // at once, too
        cache.save();
    }
    ASSERT_TRUE(fs::exists(dir_ / kBuildIdHex));
    SymbolCache next(dir_);
    const auto* frames = next.find(kBuildId, 0x1234);
    ASSERT_NE(frames, nullptr);
    ASSERT_EQ(frames->size(), 2u);
    const auto expected = two_frames();
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ((*frames)[i].function, expected[i].function);
        EXPECT_EQ((*frames)[i].file, expected[i].file);
        EXPECT_EQ((*frames)[i].line, expected[i].line);
        EXPECT_EQ((*frames)[i].column, expected[i].column);
        EXPECT_EQ((*frames)[i].inlined, expected[i].inlined);
        EXPECT_EQ((*frames)[i].module, "");
        EXPECT_EQ((*frames)[i].address, 0u);
    }
    EXPECT_EQ(next.find(kBuildId, 0x1235), nullptr);
    EXPECT_EQ(next.find(std::string("\x12\x34\xab\xce", 4), 0x1234), nullptr);
}

TEST_F(SymbolCacheTest, EntriesOfADebugFileThatChangedOrWentAreForgotten) {
    {
        SymbolCache cache(dir_);
        cache.add(kBuildId, debug_file_, 0x10, two_frames());
        cache.save();
    }
    write_file(debug_file_, "other debug information, of another size");
    EXPECT_EQ(SymbolCache(dir_).find(kBuildId, 0x10), nullptr);

    {
        SymbolCache cache(dir_);
        cache.add(kBuildId, debug_file_, 0x10, two_frames());
        cache.save();
    }
    EXPECT_NE(SymbolCache(dir_).find(kBuildId, 0x10), nullptr);
    fs::remove(debug_file_);
    EXPECT_EQ(SymbolCache(dir_).find(kBuildId, 0x10), nullptr);
}

TEST_F(SymbolCacheTest, NewEntriesAreAddedToTheOnesOnDisk) {
    {
        SymbolCache cache(dir_);
        cache.add(kBuildId, debug_file_, 0x10, two_frames());
        cache.save();
    }
    {
        SymbolCache cache(dir_);
        ASSERT_NE(cache.find(kBuildId, 0x10), nullptr);
        cache.add(kBuildId, debug_file_, 0x20, two_frames());
        cache.save();
    }
    SymbolCache last(dir_);
    EXPECT_NE(last.find(kBuildId, 0x10), nullptr);
    EXPECT_NE(last.find(kBuildId, 0x20), nullptr);
}

TEST_F(SymbolCacheTest, DamagedFilesCountAsEmpty) {
    {
        SymbolCache cache(dir_);
        cache.add(kBuildId, debug_file_, 0x10, two_frames());
        cache.save();
    }
    std::string good;
    {
        std::ifstream in(dir_ / kBuildIdHex);
        good.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    ASSERT_NE(SymbolCache(dir_).find(kBuildId, 0x10), nullptr);
    const std::string damaged[] = {
        "",
        "memtrace-symbols 2\n",
        good.substr(0, good.rfind("\tmain")),                      // a frame line cut short
        good + "20\t999999999\n",                                  // more frames than allowed
        good + "zz\t1\n0\t1\t1\tf\tfile\n",                        // not hexadecimal
        good + "30\t1\n2\t1\t1\tf\tfile\n",                        // inlined neither 0 nor 1
        good + "40\t1\n0\t-1\t1\tf\tfile\n",                       // negative line
        good + "50\t2\n0\t1\t1\tf\tfile\n",                        // a frame missing at the end
        std::string("memtrace-symbols 1\n\xff\xfe\x00source", 25), // binary junk
    };
    for (const std::string& content : damaged) {
        write_file((dir_ / kBuildIdHex).string(), content);
        EXPECT_EQ(SymbolCache(dir_).find(kBuildId, 0x10), nullptr) << content;
    }
}

TEST_F(SymbolCacheTest, FramesWithTabsOrNewlinesAreNotKept) {
    auto frames = two_frames();
    frames[1].function = "bad\tname";
    SymbolCache cache(dir_);
    cache.add(kBuildId, debug_file_, 0x10, frames);
    EXPECT_EQ(cache.find(kBuildId, 0x10), nullptr);
    frames[1].function = "main";
    frames[0].file = "bad\nfile";
    cache.add(kBuildId, debug_file_, 0x10, frames);
    EXPECT_EQ(cache.find(kBuildId, 0x10), nullptr);
}

TEST_F(SymbolCacheTest, WithoutADirectoryNothingIsFoundOrWritten) {
    SymbolCache cache{fs::path()};
    EXPECT_FALSE(cache.enabled());
    cache.add(kBuildId, debug_file_, 0x10, two_frames());
    EXPECT_EQ(cache.find(kBuildId, 0x10), nullptr);
    cache.save();
    EXPECT_FALSE(fs::exists(dir_));
}

TEST_F(SymbolCacheTest, AnUnwritableDirectoryIsNotAnError) {
    write_file((root_ / "a_file").string(), "not a directory");
    SymbolCache cache(root_ / "a_file" / "cache");
    cache.add(kBuildId, debug_file_, 0x10, two_frames());
    EXPECT_NO_THROW(cache.save());
}

TEST(SymbolCacheDefaultDir, FollowsTheEnvironment) {
    const char* saved_choice = std::getenv("MEMTRACE_SYMBOL_CACHE");
    const char* saved_xdg = std::getenv("XDG_CACHE_HOME");
    const char* saved_home = std::getenv("HOME");
    const std::string choice = saved_choice ? saved_choice : "";
    const std::string xdg = saved_xdg ? saved_xdg : "";
    const std::string home = saved_home ? saved_home : "";

    ::setenv("MEMTRACE_SYMBOL_CACHE", "/tmp/chosen", 1);
    EXPECT_EQ(SymbolCache::default_dir(), fs::path("/tmp/chosen"));
    ::setenv("MEMTRACE_SYMBOL_CACHE", "off", 1);
    EXPECT_EQ(SymbolCache::default_dir(), fs::path());
    ::unsetenv("MEMTRACE_SYMBOL_CACHE");
    ::setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
    EXPECT_EQ(SymbolCache::default_dir(), fs::path("/tmp/xdg/memtrace/symbols"));
    ::unsetenv("XDG_CACHE_HOME");
    ::setenv("HOME", "/home/someone", 1);
    EXPECT_EQ(SymbolCache::default_dir(), fs::path("/home/someone/.cache/memtrace/symbols"));

    saved_choice ? ::setenv("MEMTRACE_SYMBOL_CACHE", choice.c_str(), 1)
                 : ::unsetenv("MEMTRACE_SYMBOL_CACHE");
    saved_xdg ? ::setenv("XDG_CACHE_HOME", xdg.c_str(), 1) : ::unsetenv("XDG_CACHE_HOME");
    saved_home ? ::setenv("HOME", home.c_str(), 1) : ::unsetenv("HOME");
}

} // namespace
} // namespace memtrace
