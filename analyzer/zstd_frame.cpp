#include "zstd_frame.h"

#include <new>
#include <spdlog/fmt/fmt.h>
#include <stdexcept>
#include <zstd.h>

namespace memtrace {

ZstdCompressor::ZstdCompressor(int level) : context_(ZSTD_createCCtx()) {
    if (context_ == nullptr) throw std::bad_alloc();
    ZSTD_CCtx_setParameter(context_, ZSTD_c_compressionLevel, level);
    // The reader checks every frame, so that a damaged file is an error, not wrong numbers.
    ZSTD_CCtx_setParameter(context_, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(context_, ZSTD_c_contentSizeFlag, 1);
}

ZstdCompressor::~ZstdCompressor() {
    ZSTD_freeCCtx(context_);
}

void ZstdCompressor::compress(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
    out.resize(ZSTD_compressBound(in.size()));
    const size_t written = ZSTD_compress2(context_, out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(written)) {
        throw std::runtime_error(
            fmt::format("zstd compression failed: {}", ZSTD_getErrorName(written)));
    }
    out.resize(written);
}

ZstdDecompressor::ZstdDecompressor() : context_(ZSTD_createDCtx()) {
    if (context_ == nullptr) throw std::bad_alloc();
}

ZstdDecompressor::~ZstdDecompressor() {
    ZSTD_freeDCtx(context_);
}

std::string ZstdDecompressor::decompress(std::span<const uint8_t> in, size_t expected_size,
                                         std::vector<uint8_t>& out) {
    // The frame's own size field is checked before anything is allocated for it.
    const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
    if (declared == ZSTD_CONTENTSIZE_ERROR) return "not a zstd frame";
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != expected_size) {
        return fmt::format("the zstd frame holds {} bytes, its header says {}", declared,
                           expected_size);
    }
    if (ZSTD_findFrameCompressedSize(in.data(), in.size()) != in.size()) {
        return "the zstd frame does not end where its header says";
    }
    out.resize(expected_size);
    const size_t written =
        ZSTD_decompressDCtx(context_, out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(written)) return fmt::format("zstd: {}", ZSTD_getErrorName(written));
    if (written != expected_size) {
        return fmt::format("the zstd frame holds {} bytes, its header says {}", written,
                           expected_size);
    }
    return {};
}

} // namespace memtrace
