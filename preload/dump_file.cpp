#include "dump_file.h"

#include "clock.h"
#include "options.h"
#include "raw_syscalls.h"
#include "sampler.h"
#include "spin_lock.h"
#include "text_append.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

namespace memtrace::preload {
namespace {

constexpr uint64_t kFirstSegment = 1 << 20;
constexpr uint64_t kLargestSegment = 64 << 20;
// Segments whose chunks are counted so the segment can be unmapped once all are closed; past
// this many still-open segments (threads that sit on old chunks), new ones stay mapped.
constexpr uint32_t kTrackedSegments = 64;

struct Segment {
    uint8_t* base;
    uint64_t start; // file offsets [start, end)
    uint64_t end;
    uint32_t open_chunks; // chunks handed out and not yet released
};

// Zero-initialized on purpose: the first malloc may run before this library's static
// initializers, so no global here may have a dynamic initializer (constinit checks it).
struct DumpState {
    int fd; // valid while header is not null
    format::FileHeader* header;
    char path[kPathMax];
    // The current segment: [segment_start, segment_end) of the file, mapped at segment_base.
    uint8_t* segment_base;
    uint64_t segment_start;
    uint64_t segment_end;
    uint64_t next_segment_size;
    Segment segments[kTrackedSegments]; // the mapped segments, current one included
    uint32_t segment_count;
};

constinit DumpState g_dump{};
constinit SpinLock g_grow_lock;

// Basename of /proc/self/exe, the %n of the template.
void program_name(char* out, size_t size) {
    char exe[kPathMax];
    ssize_t length = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (length <= 0) length = 0;
    exe[length] = '\0';
    const char* base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    if (!*base) base = "program";
    const size_t n = strnlen(base, size - 1);
    memcpy(out, base, n);
    out[n] = '\0';
}

// Expands %p and %n and makes the path absolute. suffix > 0 inserts ".<suffix>" before ".mtd"
// (or at the end), so an existing dump is never overwritten.
void expand_template(char* out, unsigned suffix) {
    char* const end = out + kPathMax - 1;
    char* cursor = out;
    const char* tmpl = options().output_template;
    if (tmpl[0] != '/') {
        if (getcwd(out, kPathMax - 2)) {
            cursor = out + strlen(out);
            if (cursor != out && cursor[-1] != '/') *cursor++ = '/';
        }
    }
    char name[256];
    program_name(name, sizeof(name));
    for (const char* p = tmpl; *p && cursor < end; ++p) {
        if (p[0] == '%' && p[1] == 'p') {
            cursor = append_unsigned(cursor, end, static_cast<uint64_t>(getpid()));
            ++p;
        } else if (p[0] == '%' && p[1] == 'n') {
            cursor = append_text(cursor, end, name, strlen(name));
            ++p;
        } else {
            *cursor++ = *p;
        }
    }
    *cursor = '\0';
    if (suffix == 0) return;
    char tail[8] = "";
    const size_t length = static_cast<size_t>(cursor - out);
    if (length > 4 && memcmp(cursor - 4, ".mtd", 4) == 0) {
        memcpy(tail, ".mtd", 5);
        cursor -= 4;
    }
    cursor = append_text(cursor, end, ".", 1);
    cursor = append_unsigned(cursor, end, suffix);
    cursor = append_text(cursor, end, tail, strlen(tail));
    *cursor = '\0';
}

// Tells `memtrace run` (through MEMTRACE_REPORT_PATHS) where this process's dump is.
void report_path() {
    const char* report = options().report_paths;
    if (!*report) return;
    const int fd = open(report, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    char line[kPathMax + 32];
    char* end = line + sizeof(line) - 1;
    char* cursor = append_unsigned(line, end, static_cast<uint64_t>(getpid()));
    cursor = append_text(cursor, end, " ", 1);
    cursor = append_text(cursor, end, g_dump.path, strlen(g_dump.path));
    cursor = append_text(cursor, end, "\n", 1);
    // One write with O_APPEND: lines from concurrent processes do not interleave.
    ssize_t ignored = write(fd, line, static_cast<size_t>(cursor - line));
    (void)ignored;
    close(fd);
}

// Maps the next segment of the file. Called with g_grow_lock held.
bool grow(uint64_t min_bytes) {
    uint64_t size = g_dump.next_segment_size;
    while (size < min_bytes)
        size *= 2;
    const uint64_t start = g_dump.segment_end;
    const int rc = posix_fallocate(g_dump.fd, static_cast<off_t>(start), static_cast<off_t>(size));
    if (rc != 0) {
        dump_set_flag(format::kFlagOutOfSpace);
        return false;
    }
    void* base = raw_mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, g_dump.fd,
                          static_cast<off_t>(start));
    if (base == MAP_FAILED) {
        dump_set_flag(format::kFlagTracingFailed);
        return false;
    }
    g_dump.segment_base = static_cast<uint8_t*>(base);
    if (g_dump.segment_count < kTrackedSegments)
        g_dump.segments[g_dump.segment_count++] =
            Segment{g_dump.segment_base, start, start + size, 0};
    g_dump.segment_start = start;
    g_dump.segment_end = start + size;
    if (g_dump.next_segment_size < kLargestSegment) g_dump.next_segment_size *= 2;
    return true;
}

} // namespace

bool dump_create(bool fork_child, int* error) {
    int fd = -1;
    for (unsigned suffix = 0; suffix < 1000 && fd < 0; ++suffix) {
        expand_template(g_dump.path, suffix);
        fd = open(g_dump.path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        *error = errno;
        return false;
    }
    if (posix_fallocate(fd, 0, format::kHeaderSize) != 0) {
        *error = ENOSPC;
        close(fd);
        unlink(g_dump.path);
        return false;
    }
    void* header =
        raw_mmap(nullptr, format::kHeaderSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (header == MAP_FAILED) {
        *error = errno;
        close(fd);
        unlink(g_dump.path);
        return false;
    }
    g_dump.fd = fd;
    g_dump.header = static_cast<format::FileHeader*>(header);
    g_dump.segment_base = nullptr;
    g_dump.segment_count = 0;
    g_dump.segment_start = g_dump.segment_end = format::kHeaderSize;
    g_dump.next_segment_size = kFirstSegment;

    format::FileHeader& h = *g_dump.header;
    h.format_version = format::kFormatVersion;
    h.header_size = format::kHeaderSize;
    h.endian_tag = format::kEndianTag;
    h.pointer_size = sizeof(void*);
    h.chunk_size = format::kDefaultChunkSize;
    h.max_depth = options().depth;
    h.pid = static_cast<uint64_t>(getpid());
    h.ppid = static_cast<uint64_t>(getppid());
    h.start_realtime_ns = realtime_ns();
    h.start_monotonic_ns = monotonic_ns();
    h.data_end = format::kHeaderSize;
    h.flags = fork_child ? format::kFlagForkChild : 0;
    h.sample_bytes = options().sample_bytes;
    if (h.sample_bytes) h.flags |= format::kFlagSampled;
    h.snapshot_signal = static_cast<uint32_t>(snapshot_signal_in_force());
    h.snapshot_interval_ms = options().interval_ms;
    // The magic goes last: a reader never sees a dump whose header is half written.
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(h.magic, format::kDumpMagic, sizeof(h.magic));
    report_path();
    return true;
}

void dump_forget_after_fork() {
    // The parent's mappings stay mapped (they are only address space in the child) but are no
    // longer written; closing the inherited descriptor is enough to let go of the parent's file.
    if (g_dump.header) close(g_dump.fd);
    // Nor are the parent's segments, which would only add to the child's RSS.
    for (uint32_t i = 0; i < g_dump.segment_count; ++i) {
        const Segment& segment = g_dump.segments[i];
        raw_munmap(segment.base, segment.end - segment.start);
    }
    g_dump.segment_count = 0;
    g_dump.header = nullptr;
    g_grow_lock.reset();
}

format::ChunkHeader* dump_new_chunk(uint32_t min_bytes, uint32_t thread_index, uint32_t os_tid,
                                    uint64_t now) {
    if (!g_dump.header) return nullptr;
    uint64_t capacity = format::kDefaultChunkSize;
    const uint64_t needed = uint64_t{min_bytes} + sizeof(format::ChunkHeader);
    while (capacity < needed)
        capacity *= 2;
    if (capacity > format::kMaxChunkSize) return nullptr;

    SpinLockGuard guard(g_grow_lock);
    format::FileHeader& h = *g_dump.header;
    uint64_t offset = h.data_end;
    if (offset + capacity > g_dump.segment_end) {
        // Close the current segment with an empty padding chunk so chunks stay contiguous.
        if (offset < g_dump.segment_end) {
            const uint64_t rest = g_dump.segment_end - offset;
            if (rest >= sizeof(format::ChunkHeader)) {
                auto* pad = reinterpret_cast<format::ChunkHeader*>(g_dump.segment_base +
                                                                   (offset - g_dump.segment_start));
                *pad = format::ChunkHeader{
                    format::kChunkMagic, static_cast<uint32_t>(rest), 0, 0, 0, 0, now};
            }
            offset = g_dump.segment_end;
            __atomic_store_n(&h.data_end, offset, __ATOMIC_RELEASE);
        }
        if (!grow(capacity)) return nullptr;
    }
    auto* chunk = reinterpret_cast<format::ChunkHeader*>(g_dump.segment_base +
                                                         (offset - g_dump.segment_start));
    *chunk = format::ChunkHeader{
        format::kChunkMagic, static_cast<uint32_t>(capacity), 0, thread_index, os_tid, 0, now};
    __atomic_store_n(&h.data_end, offset + capacity, __ATOMIC_RELEASE);
    for (uint32_t i = g_dump.segment_count; i-- > 0;) {
        if (g_dump.segments[i].base == g_dump.segment_base) {
            ++g_dump.segments[i].open_chunks;
            break;
        }
    }
    return chunk;
}

void dump_release_chunk(format::ChunkHeader* chunk) {
    if (!g_dump.header || !chunk) return;
    const uint32_t capacity = chunk->capacity;
    // Written pages of a MAP_SHARED file count in the process's RSS. Dropping them from this
    // mapping leaves them in the page cache (dirty, written back by the kernel) and in the file,
    // so nothing is lost, even on SIGKILL; only this process stops paying for them.
    madvise(chunk, capacity, MADV_DONTNEED);
    SpinLockGuard guard(g_grow_lock);
    auto* byte = reinterpret_cast<uint8_t*>(chunk);
    for (uint32_t i = 0; i < g_dump.segment_count; ++i) {
        Segment& segment = g_dump.segments[i];
        if (byte < segment.base || byte >= segment.base + (segment.end - segment.start)) continue;
        if (segment.open_chunks > 0) --segment.open_chunks;
        if (segment.open_chunks == 0 && segment.base != g_dump.segment_base) {
            // No thread writes here any more: give back the address space too.
            raw_munmap(segment.base, segment.end - segment.start);
            segment = g_dump.segments[--g_dump.segment_count];
        }
        return;
    }
}

format::FileHeader* dump_header() {
    return g_dump.header;
}

const char* dump_path() {
    return g_dump.path;
}

int dump_fd() {
    return g_dump.header ? g_dump.fd : -1;
}

void dump_set_flag(uint32_t flag) {
    if (g_dump.header) __atomic_fetch_or(&g_dump.header->flags, flag, __ATOMIC_RELEASE);
}

// A vfork() child shares the parent's memory, header included, and runs no atfork handler:
// its _exit or exec must not end the parent's dump.
static bool header_is_ours(const format::FileHeader* h) {
    return h && h->pid == static_cast<uint64_t>(getpid());
}

bool dump_is_ours() {
    return header_is_ours(g_dump.header);
}

void dump_set_end(format::EndReason reason, int exit_code, int signal, bool clean) {
    format::FileHeader* h = g_dump.header;
    if (!header_is_ours(h)) return;
    h->end_reason = static_cast<uint32_t>(reason);
    h->exit_code = exit_code;
    h->signal = signal;
    h->end_monotonic_ns = monotonic_ns();
    h->end_writer = static_cast<uint32_t>(format::EndWriter::Preload);
    __atomic_store_n(&h->clean, clean ? 1u : 0u, __ATOMIC_RELEASE);
}

void dump_clear_end() {
    format::FileHeader* h = g_dump.header;
    if (!header_is_ours(h)) return;
    __atomic_store_n(&h->clean, 0u, __ATOMIC_RELEASE);
    h->end_reason = static_cast<uint32_t>(format::EndReason::Unknown);
    h->end_monotonic_ns = 0;
    h->end_writer = static_cast<uint32_t>(format::EndWriter::None);
}

void dump_lock_for_fork() {
    g_grow_lock.lock();
}

void dump_unlock_after_fork() {
    g_grow_lock.unlock();
}

} // namespace memtrace::preload
