// A copy of a separate debug file with its compressed sections inflated, for libdwfl to read
// instead of the file. libdw inflates every compressed .debug_* section with zlib when it opens
// a file; Debian's libc6-dbg is compressed (10 MiB to inflate), which cost a first report 25-40
// ms. libdeflate inflates the same sections in about a third of zlib's time.
#pragma once

#include <cstdint>

namespace memtrace {

// A memfd holding the ELF file open as `fd`, with every SHF_COMPRESSED (zlib) section stored
// inflated, everything else as it was; -1 when the file has no compressed section or is not an
// ELF file this can copy (64-bit, native byte order, sections within the file), in which case
// the caller reads the file itself. `fd` is left open and at its offset. When the sections
// to inflate come to more than second_thread_bytes, a second thread inflates about half of
// them (the default: enough that starting a thread pays; tests choose).
int inflated_debug_copy(int fd, uint64_t second_thread_bytes = uint64_t{1} << 20);

} // namespace memtrace
