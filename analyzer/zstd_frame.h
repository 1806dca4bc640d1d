// One-shot zstd compression and decompression of whole frames, with the library's contexts held
// for reuse (creating a context per frame would cost more than compressing a small one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace memtrace {

class ZstdCompressor {
public:
    // `level` as the zstd command line takes it (1 fastest .. 19 smallest).
    explicit ZstdCompressor(int level);
    ~ZstdCompressor();
    ZstdCompressor(const ZstdCompressor&) = delete;
    ZstdCompressor& operator=(const ZstdCompressor&) = delete;

    // Replaces `out` with one zstd frame holding `in`, with its content size and a checksum.
    // Throws std::runtime_error if zstd fails (it only does when memory runs out).
    void compress(std::span<const uint8_t> in, std::vector<uint8_t>& out);

private:
    ZSTD_CCtx_s* context_;
};

class ZstdDecompressor {
public:
    ZstdDecompressor();
    ~ZstdDecompressor();
    ZstdDecompressor(const ZstdDecompressor&) = delete;
    ZstdDecompressor& operator=(const ZstdDecompressor&) = delete;

    // Decompresses the single frame `in` into `out`, which must come out at exactly
    // `expected_size` bytes. Returns an empty string on success, else what is wrong (corrupt
    // data, checksum mismatch, wrong size), for the caller to put in its DumpError.
    std::string decompress(std::span<const uint8_t> in, size_t expected_size,
                           std::vector<uint8_t>& out);

private:
    ZSTD_DCtx_s* context_;
};

} // namespace memtrace
