// inflated_debug_copy() on a library built with zlib-compressed debug sections (-gz=zlib): the
// copy must hold every section libelf itself would inflate, byte for byte, and nothing else
// may change; files it cannot copy faithfully give -1.
#include "file_descriptor.h"
#include "inflated_debug_file.h"

#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <map>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace memtrace {
namespace {

struct Section {
    std::string name;
    GElf_Shdr header;
    std::vector<unsigned char> bytes; // inflated by libelf when it was compressed
};

// Every section of the ELF file open as fd, by index, with libelf inflating the compressed ones.
std::vector<Section> read_sections(int fd, size_t* compressed_count) {
    elf_version(EV_CURRENT);
    std::unique_ptr<Elf, decltype(&elf_end)> elf(elf_begin(fd, ELF_C_READ, nullptr), &elf_end);
    EXPECT_NE(elf, nullptr) << elf_errmsg(-1);
    std::vector<Section> sections;
    if (!elf) return sections;
    size_t names = 0;
    EXPECT_EQ(elf_getshdrstrndx(elf.get(), &names), 0);
    *compressed_count = 0;
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf.get(), scn)) != nullptr;) {
        Section section;
        gelf_getshdr(scn, &section.header);
        const char* name = elf_strptr(elf.get(), names, section.header.sh_name);
        section.name = name != nullptr ? name : "";
        if ((section.header.sh_flags & SHF_COMPRESSED) != 0) {
            ++*compressed_count;
            EXPECT_EQ(elf_compress(scn, 0, 0), 1) << section.name << ": " << elf_errmsg(-1);
            gelf_getshdr(scn, &section.header); // the inflated section's
        }
        if (section.header.sh_type != SHT_NOBITS) {
            if (Elf_Data* data = elf_getdata(scn, nullptr); data != nullptr && data->d_size != 0) {
                const auto* begin = static_cast<const unsigned char*>(data->d_buf);
                section.bytes.assign(begin, begin + data->d_size);
            }
        }
        sections.push_back(std::move(section));
    }
    return sections;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string temp_path(const std::string& name) {
    return ::testing::TempDir() + "memtrace_inflate_" + std::to_string(getpid()) + "_" + name;
}

// On one thread, and with a second thread taking about half of the sections.
class InflatedDebugCopy : public ::testing::TestWithParam<uint64_t> {};

TEST_P(InflatedDebugCopy, HoldsTheInflatedSectionsAndEverythingElseUnchanged) {
    FileDescriptor original(::open(FIXTURE_GZ_PATH, O_RDONLY | O_CLOEXEC));
    ASSERT_GE(original.get(), 0);
    FileDescriptor copy(inflated_debug_copy(original.get(), GetParam()));
    ASSERT_GE(copy.get(), 0);

    size_t compressed_before = 0;
    size_t compressed_after = 0;
    const std::vector<Section> expected = read_sections(original.get(), &compressed_before);
    const std::vector<Section> actual = read_sections(copy.get(), &compressed_after);
    EXPECT_GE(compressed_before, 3u) << "the fixture was not built with compressed debug info";
    EXPECT_EQ(compressed_after, 0u);
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(actual[i].name, expected[i].name);
        EXPECT_EQ(actual[i].header.sh_type, expected[i].header.sh_type) << expected[i].name;
        EXPECT_EQ(actual[i].header.sh_addr, expected[i].header.sh_addr) << expected[i].name;
        EXPECT_EQ(actual[i].header.sh_size, expected[i].header.sh_size) << expected[i].name;
        EXPECT_EQ(actual[i].header.sh_link, expected[i].header.sh_link) << expected[i].name;
        EXPECT_TRUE(actual[i].bytes == expected[i].bytes) << expected[i].name;
    }
}

INSTANTIATE_TEST_SUITE_P(Threads, InflatedDebugCopy, ::testing::Values(UINT64_MAX, 0));

TEST(InflatedDebugFile, FilesWithoutCompressedSectionsAreLeftToTheCaller) {
    FileDescriptor plain(::open(FIXTURE_O0_PATH, O_RDONLY | O_CLOEXEC));
    ASSERT_GE(plain.get(), 0);
    EXPECT_EQ(inflated_debug_copy(plain.get()), -1);
}

TEST(InflatedDebugFile, DamagedOrForeignFilesGiveNoCopy) {
    const std::string good = read_file(FIXTURE_GZ_PATH);
    ASSERT_GT(good.size(), 4096u);
    // The deflate stream of the largest compressed section, with bytes in its middle changed.
    FileDescriptor original(::open(FIXTURE_GZ_PATH, O_RDONLY | O_CLOEXEC));
    elf_version(EV_CURRENT);
    std::unique_ptr<Elf, decltype(&elf_end)> elf(elf_begin(original.get(), ELF_C_READ, nullptr),
                                                 &elf_end);
    ASSERT_NE(elf, nullptr);
    GElf_Shdr largest{};
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf.get(), scn)) != nullptr;) {
        GElf_Shdr header;
        gelf_getshdr(scn, &header);
        if ((header.sh_flags & SHF_COMPRESSED) != 0 && header.sh_size > largest.sh_size)
            largest = header;
    }
    ASSERT_GT(largest.sh_size, 64u);
    std::string corrupt = good;
    for (size_t i = 0; i < 8; ++i)
        corrupt[largest.sh_offset + largest.sh_size / 2 + i] ^= 0x5a;

    const std::map<std::string, std::string> cases = {
        {"empty", ""},
        {"text", "not an ELF file at all, but long enough to be read as a header........"},
        {"truncated", good.substr(0, good.size() / 2)},
        {"corrupt", corrupt},
    };
    for (const auto& [name, content] : cases) {
        const std::string path = temp_path(name);
        std::ofstream(path, std::ios::binary) << content;
        FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        ASSERT_GE(fd.get(), 0);
        EXPECT_EQ(inflated_debug_copy(fd.get()), -1) << name;
        EXPECT_EQ(inflated_debug_copy(fd.get(), 0), -1) << name << ", two threads";
        std::filesystem::remove(path);
    }
}

} // namespace
} // namespace memtrace
