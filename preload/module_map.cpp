#include "module_map.h"

#include "chunk_writer.h"
#include "internal_alloc.h"
#include "memtrace/record_encoding.h"
#include "options.h"
#include "spin_lock.h"

#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

namespace memtrace::preload {
namespace {

struct Module {
    Module* next;
    uint32_t id;
    bool seen; // during a rescan
    uint64_t load_bias;
    uint64_t start;
    uint64_t end;
    char path[]; // NUL-terminated
};

constinit SpinLock g_lock;
constinit Module* g_modules = nullptr;
constinit uint32_t g_next_id = 1;

struct ScanContext {
    uint64_t now;
    bool first; // the first object dl_iterate_phdr reports is the main program
    char exe[kPathMax];
};

uint32_t read_build_id(const dl_phdr_info* info, const uint8_t** build_id) {
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_NOTE) continue;
        const auto* note = reinterpret_cast<const uint8_t*>(info->dlpi_addr + ph.p_vaddr);
        const uint8_t* const end = note + ph.p_memsz;
        while (note + sizeof(ElfW(Nhdr)) <= end) {
            const auto* header = reinterpret_cast<const ElfW(Nhdr)*>(note);
            const uint8_t* name = note + sizeof(ElfW(Nhdr));
            const uint8_t* desc = name + ((header->n_namesz + 3) & ~3u);
            const uint8_t* next = desc + ((header->n_descsz + 3) & ~3u);
            if (next > end) break;
            if (header->n_type == NT_GNU_BUILD_ID && header->n_namesz == 4 &&
                memcmp(name, "GNU", 4) == 0 && header->n_descsz <= format::kMaxBuildIdLength) {
                *build_id = desc;
                return header->n_descsz;
            }
            note = next;
        }
    }
    return 0;
}

bool write_load_record(const Module& module, const uint8_t* build_id, uint32_t build_id_length,
                       uint64_t now) {
    ChunkCursor& cursor = t_thread.cursor;
    const auto path_length = static_cast<uint32_t>(strlen(module.path));
    const uint64_t room = format::module_load_record_size(build_id_length, path_length);
    uint8_t* out = chunk_reserve(cursor, static_cast<uint32_t>(room), now);
    if (!out) return false;
    out = format::encode_module_load(out, chunk_time_delta(cursor, now), module.id,
                                     module.load_bias, module.start, module.end, build_id,
                                     build_id_length, module.path, path_length);
    chunk_commit(cursor, out);
    return true;
}

void write_unload_record(const Module& module, uint64_t now) {
    ChunkCursor& cursor = t_thread.cursor;
    uint8_t* out = chunk_reserve(cursor, 1 + 2 * format::kMaxVarintBytes, now);
    if (!out) return;
    out = format::encode_module_unload(out, chunk_time_delta(cursor, now), module.id);
    chunk_commit(cursor, out);
}

int visit(dl_phdr_info* info, size_t, void* data) {
    auto& context = *static_cast<ScanContext*>(data);
    const bool main_program = context.first;
    context.first = false;
    const char* path = info->dlpi_name && *info->dlpi_name ? info->dlpi_name
                       : main_program                      ? context.exe
                                                           : nullptr;
    if (!path || !*path) return 0;

    uint64_t start = UINT64_MAX;
    uint64_t end = 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD) continue;
        const uint64_t segment = info->dlpi_addr + ph.p_vaddr;
        if (segment < start) start = segment;
        if (segment + ph.p_memsz > end) end = segment + ph.p_memsz;
    }
    if (start >= end) return 0;

    for (Module* m = g_modules; m; m = m->next) {
        if (m->load_bias == info->dlpi_addr && m->start == start && strcmp(m->path, path) == 0) {
            m->seen = true;
            return 0;
        }
    }
    const size_t path_length = strnlen(path, format::kMaxStringLength - 1);
    auto* module = static_cast<Module*>(internal_alloc(sizeof(Module) + path_length + 1));
    if (!module) return 0;
    module->id = g_next_id++;
    module->seen = true;
    module->load_bias = info->dlpi_addr;
    module->start = start;
    module->end = end;
    memcpy(module->path, path, path_length);
    module->path[path_length] = '\0';
    module->next = g_modules;
    g_modules = module;
    const uint8_t* build_id = nullptr;
    const uint32_t build_id_length = read_build_id(info, &build_id);
    write_load_record(*module, build_id, build_id_length, context.now);
    return 0;
}

} // namespace

void module_map_rescan(uint64_t now) {
    SpinLockGuard guard(g_lock);
    ScanContext context{now, true, {}};
    const ssize_t length = readlink("/proc/self/exe", context.exe, sizeof(context.exe) - 1);
    context.exe[length > 0 ? length : 0] = '\0';
    for (Module* m = g_modules; m; m = m->next)
        m->seen = false;
    dl_iterate_phdr(visit, &context);
    for (Module** link = &g_modules; *link;) {
        Module* m = *link;
        if (!m->seen) {
            write_unload_record(*m, now);
            *link = m->next; // its memory stays with the internal allocator
        } else {
            link = &m->next;
        }
    }
}

void module_map_reset() {
    g_lock.reset();
    g_modules = nullptr;
    g_next_id = 1;
}

void module_map_lock_for_fork() {
    g_lock.lock();
}

void module_map_unlock_after_fork() {
    g_lock.unlock();
}

} // namespace memtrace::preload
