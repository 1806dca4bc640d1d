// Note records: something the reader should tell the user, in plain text.
#pragma once

#include "memtrace/dump_format.h"

#include <stdint.h>

namespace memtrace::preload {

// Writes a Note to the calling thread's chunk (the caller is busy). False if recording stopped.
bool emit_note(uint64_t now, format::NoteCode code, const char* text, uint32_t length);

} // namespace memtrace::preload
