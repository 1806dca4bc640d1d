// The chunk writer is memtrace's ring of per-thread buffers: records go straight into the
// MAP_SHARED dump. These tests write through the real dump_file/chunk_writer code and read the
// file back byte by byte.
#include "chunk_writer.h"
#include "dump_file.h"
#include "memtrace/record_encoding.h"
#include "options.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <signal.h>
#include <stdlib.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

namespace fmt = memtrace::format;
namespace mp = memtrace::preload;

struct DecodedAlloc {
    uint64_t time;
    uint64_t address;
    uint64_t size;
    uint64_t stack;
};

struct Chunk {
    uint64_t offset;
    fmt::ChunkHeader header;
    std::vector<DecodedAlloc> allocs;
};

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Walks the chunks of a dump holding only Alloc records (the test writes nothing else).
std::vector<Chunk> decode(const std::vector<uint8_t>& file, const fmt::FileHeader& header) {
    std::vector<Chunk> chunks;
    uint64_t offset = header.header_size;
    while (offset < header.data_end) {
        Chunk chunk{offset, {}, {}};
        std::memcpy(&chunk.header, file.data() + offset, sizeof(fmt::ChunkHeader));
        EXPECT_EQ(chunk.header.magic, fmt::kChunkMagic) << "at " << offset;
        if (chunk.header.magic != fmt::kChunkMagic || chunk.header.capacity == 0) break;
        const uint8_t* p = file.data() + offset + sizeof(fmt::ChunkHeader);
        const uint8_t* end = p + chunk.header.committed;
        uint64_t time = chunk.header.base_time_ns;
        uint64_t address = 0;
        while (p < end) {
            EXPECT_EQ(fmt::kind_of(*p), fmt::RecordKind::Alloc);
            ++p;
            uint64_t delta = 0, address_delta = 0, size = 0, stack = 0;
            EXPECT_TRUE(fmt::read_varint(&p, end, &delta));
            EXPECT_TRUE(fmt::read_varint(&p, end, &address_delta));
            EXPECT_TRUE(fmt::read_varint(&p, end, &size));
            EXPECT_TRUE(fmt::read_varint(&p, end, &stack));
            time += delta;
            address += static_cast<uint64_t>(fmt::zigzag_decode(address_delta));
            chunk.allocs.push_back({time, address, size, stack});
        }
        chunks.push_back(chunk);
        offset += chunk.header.capacity;
    }
    return chunks;
}

class ChunkWriterTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir = std::filesystem::temp_directory_path() /
              ("memtrace-chunk-test-" + std::to_string(getpid()));
        std::filesystem::create_directories(dir);
        path = (dir / "test.mtd").string();
        setenv("MEMTRACE_OUTPUT", path.c_str(), 1);
        mp::read_options();
        int error = 0;
        ASSERT_TRUE(mp::dump_create(false, &error)) << error;
        cursor = mp::ChunkCursor{};
    }
    void TearDown() override {
        mp::dump_forget_after_fork();
        std::filesystem::remove_all(dir);
    }

    void write_alloc(uint64_t time, uint64_t address, uint64_t size, uint32_t stack) {
        uint8_t* out = mp::chunk_reserve(cursor, fmt::kMaxAllocRecord, time);
        ASSERT_NE(out, nullptr);
        out = fmt::encode_alloc(out, mp::chunk_time_delta(cursor, time),
                                mp::chunk_address_delta(cursor, address), size, stack,
                                fmt::AllocFunction::Malloc);
        mp::chunk_commit(cursor, out);
    }

    fmt::FileHeader header() const {
        fmt::FileHeader h;
        std::memcpy(&h, mp::dump_header(), sizeof(h));
        return h;
    }

    std::filesystem::path dir;
    std::string path;
    mp::ChunkCursor cursor;
};

TEST_F(ChunkWriterTest, HeaderDescribesTheProcess) {
    const fmt::FileHeader h = header();
    EXPECT_EQ(std::memcmp(h.magic, fmt::kDumpMagic, 8), 0);
    EXPECT_EQ(h.format_version, fmt::kFormatVersion);
    EXPECT_EQ(h.header_size, fmt::kHeaderSize);
    EXPECT_EQ(h.endian_tag, fmt::kEndianTag);
    EXPECT_EQ(h.pid, static_cast<uint64_t>(getpid()));
    EXPECT_EQ(h.data_end, fmt::kHeaderSize);
    EXPECT_EQ(h.end_reason, static_cast<uint32_t>(fmt::EndReason::Unknown));
    EXPECT_EQ(std::string(mp::dump_path()), path);
}

TEST_F(ChunkWriterTest, RecordsSpanChunksAndSegmentsInOrder) {
    // Several 64 KiB chunks, and more than the first 1 MiB segment holds.
    constexpr uint64_t kCount = 400000;
    for (uint64_t i = 0; i < kCount; ++i) {
        write_alloc(1000 + i * 3, 0x7f0000000000 + (i % 977) * 48, i % 5000, uint32_t(i % 300));
    }
    const auto file = read_file(path);
    const fmt::FileHeader h = header();
    ASSERT_GE(file.size(), h.data_end);
    const auto chunks = decode(file, h);
    ASSERT_GT(chunks.size(), 16u);
    uint64_t i = 0;
    for (const Chunk& chunk : chunks) {
        // The padding chunk that closes a segment holds no records and no thread.
        if (chunk.allocs.empty()) {
            EXPECT_EQ(chunk.header.thread_index, 0u);
            continue;
        }
        EXPECT_EQ(chunk.header.thread_index, cursor.thread_index);
        EXPECT_EQ(chunk.header.os_tid, static_cast<uint32_t>(gettid()));
        for (const DecodedAlloc& a : chunk.allocs) {
            ASSERT_LT(i, kCount);
            EXPECT_EQ(a.time, 1000 + i * 3);
            EXPECT_EQ(a.address, 0x7f0000000000 + (i % 977) * 48);
            EXPECT_EQ(a.size, i % 5000);
            EXPECT_EQ(a.stack, i % 300);
            ++i;
        }
    }
    EXPECT_EQ(i, kCount);
    EXPECT_LT(static_cast<double>(h.data_end) / kCount, 16.0) << "bytes per event";
}

TEST_F(ChunkWriterTest, LargeRecordGetsALargerChunk) {
    write_alloc(5, 0x1000, 1, 1);
    uint8_t* out = mp::chunk_reserve(cursor, 100 * 1024, 6);
    ASSERT_NE(out, nullptr);
    EXPECT_GE(cursor.header->capacity, 100 * 1024 + sizeof(fmt::ChunkHeader));
    EXPECT_EQ(cursor.header->capacity % fmt::kDefaultChunkSize, 0u);
}

TEST_F(ChunkWriterTest, RecordsSurviveSigkillOfTheWriter) {
    // The writer is a forked child that dies by SIGKILL right after writing: what it wrote
    // must be in the file, since the mapping is shared with the page cache.
    mp::dump_forget_after_fork();
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        int error = 0;
        if (!mp::dump_create(false, &error)) _exit(2);
        mp::ChunkCursor own{};
        for (uint64_t i = 0; i < 20000; ++i) {
            uint8_t* out = mp::chunk_reserve(own, fmt::kMaxAllocRecord, i);
            if (!out) _exit(3);
            out = fmt::encode_alloc(out, mp::chunk_time_delta(own, i),
                                    mp::chunk_address_delta(own, 0x5000 + i * 16), 24, 7,
                                    fmt::AllocFunction::Malloc);
            mp::chunk_commit(own, out);
        }
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
    ASSERT_EQ(WTERMSIG(status), SIGKILL);

    // The child named its dump from the same template: the existing file got a suffix.
    const std::string child_path = (dir / "test.1.mtd").string();
    const auto file = read_file(child_path);
    ASSERT_GE(file.size(), sizeof(fmt::FileHeader));
    fmt::FileHeader h;
    std::memcpy(&h, file.data(), sizeof(h));
    EXPECT_EQ(h.pid, static_cast<uint64_t>(child));
    EXPECT_EQ(h.end_reason, static_cast<uint32_t>(fmt::EndReason::Unknown));
    EXPECT_EQ(h.clean, 0u);
    uint64_t count = 0;
    for (const Chunk& chunk : decode(file, h)) {
        for (const DecodedAlloc& a : chunk.allocs) {
            EXPECT_EQ(a.address, 0x5000 + count * 16);
            EXPECT_EQ(a.size, 24u);
            ++count;
        }
    }
    EXPECT_EQ(count, 20000u);
    // Put back a dump for TearDown to forget.
    int error = 0;
    ASSERT_TRUE(mp::dump_create(false, &error));
}

} // namespace
