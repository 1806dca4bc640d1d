#include "malloc_info_text.h"

#include "internal_alloc.h"
#include "memtrace/dump_format.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

namespace memtrace::preload {
namespace {

// The text buffer is reserved (not committed) at the format's limit: only the pages the XML
// touches cost memory, so it never needs to grow or move.
constinit char* g_text = nullptr;
constinit uint32_t g_length = 0;
constinit FILE* g_stream = nullptr;
// stdio's own buffer, given with setvbuf so that stdio does not malloc one on the first write.
constinit char g_stdio_buffer[4096]{};

ssize_t append_to_text(void*, const char* data, size_t size) {
    const size_t room = format::kMaxMallocInfoLength - g_length;
    const size_t n = size < room ? size : room;
    memcpy(g_text + g_length, data, n);
    g_length += static_cast<uint32_t>(n);
    return static_cast<ssize_t>(size); // what does not fit is dropped, not an error
}

} // namespace

bool malloc_info_prepare() {
    if (g_stream) return true;
    if (!g_text) {
        g_text = static_cast<char*>(reserve_pages(format::kMaxMallocInfoLength));
        if (!g_text) return false;
    }
    cookie_io_functions_t functions{};
    functions.write = append_to_text;
    FILE* stream = fopencookie(nullptr, "w", functions);
    if (!stream) return false;
    setvbuf(stream, g_stdio_buffer, _IOFBF, sizeof(g_stdio_buffer));
    g_stream = stream;
    return true;
}

const char* capture_malloc_info(uint32_t* length) {
    *length = 0;
    if (!malloc_info_prepare()) return nullptr;
    g_length = 0;
    malloc_info(0, g_stream);
    fflush(g_stream);
    *length = g_length;
    return g_text;
}

} // namespace memtrace::preload
