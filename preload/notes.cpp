#include "notes.h"

#include "chunk_writer.h"
#include "memtrace/record_encoding.h"

namespace memtrace::preload {

bool emit_note(uint64_t now, format::NoteCode code, const char* text, uint32_t length) {
    ChunkCursor& cursor = t_thread.cursor;
    uint8_t* out =
        chunk_reserve(cursor, static_cast<uint32_t>(format::note_record_size(length)), now);
    if (!out) return false;
    out = format::encode_note(out, chunk_time_delta(cursor, now), code, text, length);
    chunk_commit(cursor, out);
    return true;
}

} // namespace memtrace::preload
