#include "real_functions.h"
#include "usable_size.h"

#include <cstdlib>
#include <gtest/gtest.h>
#include <malloc.h>
#include <vector>

namespace {

using namespace memtrace::preload;

TEST(UsableSize, GlibcChunkHeaderAgreesWithMallocUsableSize) {
    // Every size from 0 to 2 KiB, then larger ones up to mmapped blocks (above 128 KiB).
    std::vector<size_t> sizes;
    for (size_t size = 0; size <= 2048; ++size)
        sizes.push_back(size);
    for (size_t size : {4095, 4096, 65536, 131071, 131072, 200000, 1 << 20, 5 << 20})
        sizes.push_back(size);
    for (size_t size : sizes) {
        void* p = malloc(size);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(glibc_usable_size(p), malloc_usable_size(p)) << "size " << size;
        free(p);
    }
    // Blocks from the other entry points, aligned ones included.
    void* c = calloc(10, 33);
    EXPECT_EQ(glibc_usable_size(c), malloc_usable_size(c));
    void* a = aligned_alloc(256, 1000);
    EXPECT_EQ(glibc_usable_size(a), malloc_usable_size(a));
    void* r = realloc(malloc(10), 5000);
    EXPECT_EQ(glibc_usable_size(r), malloc_usable_size(r));
    free(c);
    free(a);
    free(r);
}

TEST(UsableSize, GlibcRoundingGivesTheUsableSizeOfSmallHeapBlocks) {
    // What sampling mode counts without reading the header (recorder.h, count_small_alloc).
    // glibc may hand out a chunk 16 bytes larger when the rest of a free one would be too small.
    // Each block is freed at once: a heap left full of holes changes what later tests see
    // (MallocInfoText compares two malloc_info() captures).
    for (size_t size = 1; size <= 512; ++size) {
        void* p = malloc(size);
        ASSERT_NE(p, nullptr);
        const size_t usable = malloc_usable_size(p);
        const size_t rounded = glibc_heap_usable_size(size);
        EXPECT_TRUE(usable == rounded || usable == rounded + 16)
            << "size " << size << ": usable " << usable << ", rounded " << rounded;
        free(p);
    }
    EXPECT_EQ(glibc_heap_usable_size(1), 24u);
    EXPECT_EQ(glibc_heap_usable_size(24), 24u);
    EXPECT_EQ(glibc_heap_usable_size(25), 40u);
    EXPECT_EQ(glibc_heap_usable_size(512), 520u);
}

TEST(UsableSize, TheHeaderIsReadOnlyAfterAgreeingOnTheProgramsOwnBlocks) {
    ASSERT_TRUE(resolve_real_functions());
    usable_size_init();
    EXPECT_FALSE(g_glibc_chunk_headers) << "nothing compared yet";
    EXPECT_EQ(g_header_checks_left, kHeaderChecks) << "this test binary's malloc is glibc's";
    std::vector<void*> blocks;
    for (uint32_t i = 0; i < kHeaderChecks; ++i) {
        blocks.push_back(malloc(10 + 100 * i));
        EXPECT_EQ(usable_size(blocks.back()), malloc_usable_size(blocks.back()));
        EXPECT_EQ(g_glibc_chunk_headers, i + 1 == kHeaderChecks) << i;
    }
    void* p = malloc(777);
    EXPECT_EQ(usable_size(p), malloc_usable_size(p));
    free(p);
    for (void* b : blocks)
        free(b);
}

TEST(UsableSize, OneDisagreementMeansNeverTheHeader) {
    ASSERT_TRUE(resolve_real_functions());
    usable_size_init();
    note_header_check(true);
    EXPECT_EQ(g_header_checks_left, kHeaderChecks - 1);
    note_header_check(false);
    EXPECT_EQ(g_header_checks_left, 0u);
    EXPECT_FALSE(g_glibc_chunk_headers);
    note_header_check(true); // decided: nothing changes it
    EXPECT_FALSE(g_glibc_chunk_headers);
}

} // namespace
