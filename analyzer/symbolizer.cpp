#include "symbolizer.h"

#include "dwarf_scope_index.h"
#include "hex.h"
#include "inflated_debug_file.h"
#include "symbol_cache.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <exception>
#include <fcntl.h>
#include <libelf.h>
#include <map>
#include <optional>
#include <set>
#include <spdlog/spdlog.h>
#include <string_view>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>
#include <unordered_map>
#include <utility>

namespace memtrace {
namespace {

constexpr const char* kUnknownFunction = "??";

std::string demangle(const char* name) {
    if (name == nullptr || *name == '\0') return kUnknownFunction;
    if (std::strncmp(name, "_Z", 2) == 0) {
        int status = 0;
        std::unique_ptr<char, decltype(&std::free)> readable(
            abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
        if (status == 0 && readable) return readable.get();
    }
    return name;
}

// Debug info may name files relative to the compilation directory.
std::string full_path(const char* file, const char* comp_dir) {
    if (file == nullptr) return {};
    if (file[0] == '/' || comp_dir == nullptr || comp_dir[0] == '\0') return file;
    std::string joined = comp_dir;
    if (joined.back() != '/') joined.push_back('/');
    return joined + file;
}

const char* die_string(Dwarf_Die* die, unsigned int attribute) {
    Dwarf_Attribute storage;
    // _integrate follows DW_AT_abstract_origin and DW_AT_specification, so an inlined or
    // out-of-line instance gets the name of the declaration it came from.
    return dwarf_formstring(dwarf_attr_integrate(die, attribute, &storage));
}

std::optional<Dwarf_Word> die_unsigned(Dwarf_Die* die, unsigned int attribute) {
    Dwarf_Attribute storage;
    Dwarf_Word value = 0;
    if (dwarf_formudata(dwarf_attr(die, attribute, &storage), &value) != 0) return std::nullopt;
    return value;
}

// The DIE holding the name of `die`: an inlined or out-of-line instance points to its abstract
// definition, which may point to the declaration inside its namespace or class.
Dwarf_Die named_declaration(Dwarf_Die* die) {
    Dwarf_Die named = *die;
    for (int hop = 0; hop < 8 && !dwarf_hasattr(&named, DW_AT_name); ++hop) {
        Dwarf_Attribute storage;
        Dwarf_Attribute* reference = dwarf_attr(&named, DW_AT_abstract_origin, &storage);
        if (reference == nullptr) reference = dwarf_attr(&named, DW_AT_specification, &storage);
        Dwarf_Die target;
        if (dwarf_formref_die(reference, &target) == nullptr) break;
        named = target;
    }
    return named;
}

bool is_function_scope(Dwarf_Die* die) {
    const int tag = dwarf_tag(die);
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

// The two questions about a unit's tree that the frames need, answered from one walk of each
// unit (DwarfScopeIndex) rather than by libdw's walk from the unit's start on every call; libdw
// still answers for the units an index cannot stand for.
class ScopeLookup {
public:
    // `die` and the DIEs around it, `die` first and the unit's DIE last.
    std::vector<Dwarf_Die> enclosing(Dwarf_Die* die) {
        if (const DwarfScopeIndex* index = unit_of(die)) {
            if (auto scopes = index->enclosing(die)) return std::move(*scopes);
        }
        Dwarf_Die* scopes = nullptr;
        const int count = dwarf_getscopes_die(die, &scopes);
        std::unique_ptr<Dwarf_Die, decltype(&std::free)> owner(scopes, &std::free);
        return count > 0 ? std::vector<Dwarf_Die>(scopes, scopes + count)
                         : std::vector<Dwarf_Die>{};
    }

    // The innermost function scope of the unit `cudie` that holds pc.
    std::optional<Dwarf_Die> innermost_function(Dwarf_Die* cudie, Dwarf_Addr pc) {
        if (const DwarfScopeIndex* index = unit_of(cudie)) return index->innermost_function(pc);
        Dwarf_Die* scopes = nullptr;
        const int count = dwarf_getscopes(cudie, pc, &scopes);
        std::unique_ptr<Dwarf_Die, decltype(&std::free)> owner(scopes, &std::free);
        for (int i = 0; i < count; ++i) {
            if (is_function_scope(&scopes[i])) return scopes[i];
        }
        return std::nullopt;
    }

private:
    // The index of the unit holding `die`, built on first use; null when it is not usable.
    const DwarfScopeIndex* unit_of(Dwarf_Die* die) {
        Dwarf_Die cudie;
        if (die->cu == nullptr || dwarf_diecu(die, &cudie, nullptr, nullptr) == nullptr) {
            return nullptr;
        }
        const std::pair<const Dwarf*, Dwarf_Off> key{dwarf_cu_getdwarf(die->cu),
                                                     dwarf_dieoffset(&cudie)};
        auto [it, inserted] = units_.try_emplace(key);
        if (inserted) it->second = std::make_unique<DwarfScopeIndex>(&cudie);
        return it->second->usable() ? it->second.get() : nullptr;
    }

    std::map<std::pair<const Dwarf*, Dwarf_Off>, std::unique_ptr<DwarfScopeIndex>> units_;
};

// "ns::Class::" for a declaration nested in namespaces and classes.
std::string enclosing_scopes(Dwarf_Die* declaration, ScopeLookup& lookup) {
    std::vector<Dwarf_Die> scopes = lookup.enclosing(declaration);
    const int count = static_cast<int>(scopes.size());
    std::string prefix;
    for (int i = count - 1; i >= 1; --i) { // [0] is the declaration itself
        const int tag = dwarf_tag(&scopes[i]);
        const char* name = dwarf_diename(&scopes[i]);
        if (tag == DW_TAG_namespace) {
            prefix += name != nullptr ? name : "(anonymous namespace)";
            prefix += "::";
        } else if ((tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
                    tag == DW_TAG_union_type) &&
                   name != nullptr) {
            prefix += name;
            prefix += "::";
        }
    }
    return prefix;
}

// A mangled linkage name demangles to the qualified name with parameters. Functions without
// one (C, extern "C", and GCC omits it for internal linkage) get DW_AT_name, qualified by the
// namespaces and classes around its declaration.
std::string function_name(Dwarf_Die* die, ScopeLookup& lookup) {
    const char* linkage = die_string(die, DW_AT_linkage_name);
    if (linkage == nullptr) linkage = die_string(die, DW_AT_MIPS_linkage_name);
    // Only mangled names say more than DW_AT_name; a C asm label like glibc's
    // "__GI___libc_malloc" says less.
    if (linkage != nullptr && std::strncmp(linkage, "_Z", 2) == 0) return demangle(linkage);
    Dwarf_Die declaration = named_declaration(die);
    const char* name = dwarf_diename(&declaration);
    if (name == nullptr) return {};
    return enclosing_scopes(&declaration, lookup) + name;
}

// Where an inlined_subroutine was called from, i.e. the position inside its caller.
void set_call_site(Dwarf_Die* inlined, SymbolizedFrame& caller) {
    if (auto line = die_unsigned(inlined, DW_AT_call_line)) {
        caller.line = static_cast<uint32_t>(*line);
    }
    if (auto column = die_unsigned(inlined, DW_AT_call_column)) {
        caller.column = static_cast<uint32_t>(*column);
    }
    auto file_index = die_unsigned(inlined, DW_AT_call_file);
    Dwarf_Die cu;
    if (!file_index || dwarf_diecu(inlined, &cu, nullptr, nullptr) == nullptr) return;
    Dwarf_Files* files = nullptr;
    size_t file_count = 0;
    if (dwarf_getsrcfiles(&cu, &files, &file_count) != 0 || *file_index >= file_count) return;
    const char* file = dwarf_filesrc(files, *file_index, nullptr, nullptr);
    // libdw puts a "???" placeholder at index 0 of DWARF 4 tables, where 0 means "no file".
    if (file == nullptr || std::strcmp(file, "???") == 0) return;
    Dwarf_Attribute storage;
    caller.file = full_path(file, dwarf_formstring(dwarf_attr(&cu, DW_AT_comp_dir, &storage)));
}

// Frames from the DWARF scopes around `pc` (a module-relative DWARF address): the innermost
// inlined callee first, down to the concrete function. Empty when no function scope holds pc.
std::vector<SymbolizedFrame> dwarf_frames(Dwarf_Die* cudie, Dwarf_Addr pc,
                                          const SymbolizedFrame& blank, ScopeLookup& lookup) {
    std::vector<SymbolizedFrame> frames;
    std::optional<Dwarf_Die> innermost = lookup.innermost_function(cudie, pc);
    if (!innermost) return frames;

    // The callers of an inlined instance are the concrete DIEs that enclose it (libdw's
    // dwarf_getscopes would continue with the scopes of the abstract definition instead).
    std::vector<Dwarf_Die> chain{*innermost};
    if (dwarf_tag(&*innermost) == DW_TAG_inlined_subroutine) {
        std::vector<Dwarf_Die> enclosing = lookup.enclosing(&*innermost);
        if (!enclosing.empty()) chain = std::move(enclosing);
    }

    Dwarf_Die* callee_inlined = nullptr; // the inlined instance whose call site is this frame
    for (Dwarf_Die& scope_die : chain) {
        Dwarf_Die* scope = &scope_die;
        if (!is_function_scope(scope)) continue;
        SymbolizedFrame frame = blank;
        std::string name = function_name(scope, lookup);
        if (!name.empty()) frame.function = std::move(name);
        if (callee_inlined != nullptr) set_call_site(callee_inlined, frame);
        const bool inlined = dwarf_tag(scope) == DW_TAG_inlined_subroutine;
        frame.inlined = inlined;
        frames.push_back(std::move(frame));
        if (!inlined) break;
        callee_inlined = scope;
    }
    return frames;
}

// One opened ELF file (shared by every record of the same mapping, e.g. a library that was
// dlclose()d and dlopen()ed again at the same place).
struct OpenedModule {
    std::string path;
    std::string build_id;
    uint64_t load_bias = 0;
    bool tried = false;
    std::unique_ptr<Dwfl, decltype(&dwfl_end)> dwfl{nullptr, &dwfl_end};
    Dwfl_Module* module = nullptr; // null when the file is unusable
};

using ModuleKey = std::tuple<std::string, std::string, uint64_t>;

struct AddressKey {
    size_t opened;
    uint64_t address;
    bool operator==(const AddressKey&) const = default;
};

struct AddressKeyHash {
    size_t operator()(const AddressKey& key) const {
        return std::hash<uint64_t>()(key.address) ^ (std::hash<size_t>()(key.opened) * 31);
    }
};

// Whether the ELF file open as fd has this build-id note.
bool has_build_id(int fd, const unsigned char* bits, int length) {
    std::unique_ptr<Elf, decltype(&elf_end)> elf(elf_begin(fd, ELF_C_READ_MMAP, nullptr), &elf_end);
    const void* found = nullptr;
    return elf && dwelf_elf_gnu_build_id(elf.get(), &found) == length &&
           std::memcmp(found, bits, static_cast<size_t>(length)) == 0;
}

// Finds separate debug files as libdwfl's standard callback does (/usr/lib/debug/.build-id,
// then .gnu_debuglink), except that a file under /usr/lib/debug/.build-id with compressed
// sections is handed over inflated by libdeflate (inflated_debug_file.h), which libdw then
// reads without inflating anything. (The standard callback cannot be wrapped for this: it
// keeps the file it opened for the module.) The name stays the real one: the symbol cache
// records it, and dwz's alternate files are found from it.
int find_debuginfo(Dwfl_Module* module, void** userdata, const char* module_name, GElf_Addr base,
                   const char* file_name, const char* debuglink_file, GElf_Word debuglink_crc,
                   char** debuginfo_file_name) {
    const unsigned char* bits = nullptr;
    GElf_Addr bits_address = 0;
    const int length = dwfl_module_build_id(module, &bits, &bits_address);
    if (length > 1) {
        const std::string_view id(reinterpret_cast<const char*>(bits), static_cast<size_t>(length));
        const std::string path =
            "/usr/lib/debug/.build-id/" + hex(id.substr(0, 1)) + "/" + hex(id.substr(1)) + ".debug";
        if (const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
            const int inflated = inflated_debug_copy(fd);
            ::close(fd);
            if (inflated >= 0 && has_build_id(inflated, bits, length)) {
                *debuginfo_file_name = ::strdup(path.c_str());
                return inflated;
            }
            if (inflated >= 0) ::close(inflated);
        }
    }
    return dwfl_standard_find_debuginfo(module, userdata, module_name, base, file_name,
                                        debuglink_file, debuglink_crc, debuginfo_file_name);
}

const Dwfl_Callbacks kOfflineCallbacks = {
    // Never called for modules reported with dwfl_report_elf; set for completeness.
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = nullptr,
};

} // namespace

struct Symbolizer::Impl {
    std::vector<ModuleInfo> modules;  // sorted by start
    std::vector<uint64_t> end_so_far; // max end over modules[0..i], bounds the lookup scan
    std::vector<size_t> opened_of;    // modules[i] -> index into opened
    std::vector<OpenedModule> opened;
    std::unordered_map<AddressKey, std::vector<SymbolizedFrame>, AddressKeyHash> cache;
    std::set<std::string> warned;
    ScopeLookup scopes;
    SymbolCache symbol_cache;

    Impl(std::vector<ModuleInfo> infos, std::filesystem::path cache_dir)
        : modules(std::move(infos)), symbol_cache(std::move(cache_dir)) {
        std::stable_sort(
            modules.begin(), modules.end(),
            [](const ModuleInfo& a, const ModuleInfo& b) { return a.start < b.start; });
        std::map<ModuleKey, size_t> by_key;
        uint64_t max_end = 0;
        for (const ModuleInfo& info : modules) {
            max_end = std::max(max_end, info.end);
            end_so_far.push_back(max_end);
            ModuleKey key{info.path, info.build_id, info.load_bias};
            auto [it, inserted] = by_key.emplace(key, opened.size());
            if (inserted) {
                OpenedModule& module = opened.emplace_back();
                module.path = info.path;
                module.build_id = info.build_id;
                module.load_bias = info.load_bias;
            }
            opened_of.push_back(it->second);
        }
    }

    void warn_once(const std::string& path, const std::string& message) {
        if (!warned.insert(path).second) return;
        // Pseudo-files such as linux-vdso.so.1 are never on disk; not worth a warning.
        if (!path.empty() && path.front() == '/') {
            spdlog::warn("symbolizer: {}: {}", path, message);
        } else {
            spdlog::debug("symbolizer: {}: {}", path, message);
        }
    }

    // The module covering pc at time_ns. When none was loaded at that very time (clock skew
    // between records), the covering one whose lifetime is nearest to time_ns.
    std::optional<size_t> find_module(uint64_t pc, uint64_t time_ns) const {
        auto after =
            std::upper_bound(modules.begin(), modules.end(), pc,
                             [](uint64_t value, const ModuleInfo& m) { return value < m.start; });
        std::optional<size_t> best;
        uint64_t best_distance = UINT64_MAX;
        for (size_t i = static_cast<size_t>(after - modules.begin()); i-- > 0;) {
            if (end_so_far[i] <= pc) break;
            const ModuleInfo& m = modules[i];
            if (pc < m.start || pc >= m.end) continue;
            uint64_t distance = 0;
            if (time_ns < m.load_time_ns) {
                distance = m.load_time_ns - time_ns;
            } else if (time_ns >= m.unload_time_ns) {
                distance = time_ns - m.unload_time_ns + 1;
            }
            if (!best || distance < best_distance ||
                (distance == best_distance && m.load_time_ns > modules[*best].load_time_ns)) {
                best = i;
                best_distance = distance;
            }
        }
        return best;
    }

    Dwfl_Module* open(OpenedModule& module) {
        if (module.tried) return module.module;
        module.tried = true;

        struct stat info;
        if (::stat(module.path.c_str(), &info) != 0) {
            warn_once(module.path, "file not found, frames keep only their address");
            return nullptr;
        }
        if (!S_ISREG(info.st_mode)) {
            warn_once(module.path, "not a regular file, frames keep only their address");
            return nullptr;
        }
        module.dwfl.reset(dwfl_begin(&kOfflineCallbacks));
        if (!module.dwfl) {
            warn_once(module.path, std::string("cannot start libdwfl: ") + dwfl_errmsg(-1));
            return nullptr;
        }
        Dwfl* dwfl = module.dwfl.get();
        dwfl_report_begin(dwfl);
        // add_p_vaddr: the base is the load bias, added to the p_vaddr of the segments.
        Dwfl_Module* reported = dwfl_report_elf(dwfl, module.path.c_str(), module.path.c_str(), -1,
                                                module.load_bias, true);
        dwfl_report_end(dwfl, nullptr, nullptr);
        if (reported == nullptr) {
            warn_once(module.path, std::string("cannot read as ELF: ") + dwfl_errmsg(-1));
            return nullptr;
        }
        if (!module.build_id.empty()) {
            Dwarf_Addr bias = 0;
            dwfl_module_getelf(reported, &bias); // loads the build-id notes
            const unsigned char* bits = nullptr;
            GElf_Addr bits_address = 0;
            const int length = dwfl_module_build_id(reported, &bits, &bits_address);
            if (length > 0) {
                std::string_view on_disk(reinterpret_cast<const char*>(bits),
                                         static_cast<size_t>(length));
                if (on_disk != module.build_id) {
                    warn_once(module.path, "build-id " + hex(on_disk) +
                                               " differs from the traced " + hex(module.build_id) +
                                               " (file replaced?), frames keep only their address");
                    return nullptr;
                }
            }
        }
        module.module = reported;
        return reported;
    }

    std::vector<SymbolizedFrame> describe(Dwfl_Module* module, uint64_t pc,
                                          const SymbolizedFrame& blank) {
        std::vector<SymbolizedFrame> frames;
        Dwarf_Addr bias = 0;
        if (Dwarf_Die* cudie = dwfl_module_addrdie(module, pc, &bias)) {
            frames = dwarf_frames(cudie, pc - bias, blank, scopes);
        }
        if (frames.empty()) frames.push_back(blank);

        SymbolizedFrame& containing = frames.back();
        if (containing.function == kUnknownFunction) {
            // No DWARF for this code (e.g. a library without debug info): the ELF symbol
            // table names the function that holds pc, never an inlined part of it.
            if (const char* symbol = dwfl_module_addrname(module, pc)) {
                containing.function = demangle(symbol);
            }
        }
        SymbolizedFrame& innermost = frames.front();
        if (Dwfl_Line* line = dwfl_module_getsrc(module, pc)) {
            Dwarf_Addr line_address = 0;
            int line_number = 0;
            int column = 0;
            const char* file =
                dwfl_lineinfo(line, &line_address, &line_number, &column, nullptr, nullptr);
            if (file != nullptr) {
                innermost.file = full_path(file, dwfl_line_comp_dir(line));
                innermost.line = line_number > 0 ? static_cast<uint32_t>(line_number) : 0;
                innermost.column = column > 0 ? static_cast<uint32_t>(column) : 0;
            }
        }
        return frames;
    }

    // Frames that came from DWARF go to the symbol cache, with the file they were read from.
    void remember(const OpenedModule& opened_module, Dwfl_Module* module, uint64_t relative,
                  const std::vector<SymbolizedFrame>& frames) {
        if (!symbol_cache.enabled() || opened_module.build_id.empty()) return;
        Dwarf_Addr bias = 0;
        if (dwfl_module_getdwarf(module, &bias) == nullptr) return; // loaded by describe()
        const char* main_file = nullptr;
        const char* debug_file = nullptr;
        dwfl_module_info(module, nullptr, nullptr, nullptr, nullptr, nullptr, &main_file,
                         &debug_file);
        const char* source = debug_file != nullptr ? debug_file : main_file;
        if (source == nullptr) return;
        symbol_cache.add(opened_module.build_id, source, relative, frames);
    }

    std::vector<SymbolizedFrame> symbolize(uint64_t address, uint64_t time_ns) {
        SymbolizedFrame blank;
        blank.function = kUnknownFunction;
        blank.address = address;
        if (address == 0) return {blank};
        const uint64_t pc = address - 1; // the call instruction, not the one after it

        const std::optional<size_t> index = find_module(pc, time_ns);
        if (!index) return {blank};
        blank.module = modules[*index].path;

        const AddressKey key{opened_of[*index], address};
        if (auto hit = cache.find(key); hit != cache.end()) return hit->second;

        std::vector<SymbolizedFrame> frames;
        OpenedModule& opened_module = opened[key.opened];
        // The file is opened (and its build-id checked) before the cache is asked: a file that
        // is gone or replaced gives addresses only, cached or not.
        if (Dwfl_Module* module = open(opened_module)) {
            const uint64_t relative = address - opened_module.load_bias;
            if (const auto* cached = symbol_cache.find(opened_module.build_id, relative)) {
                frames = *cached;
                for (SymbolizedFrame& frame : frames) {
                    frame.module = blank.module;
                    frame.address = blank.address;
                }
            } else {
                frames = describe(module, pc, blank);
                remember(opened_module, module, relative, frames);
            }
        } else {
            frames.push_back(blank);
        }
        cache.emplace(key, frames);
        return frames;
    }
};

Symbolizer::Symbolizer(std::vector<ModuleInfo> modules, std::filesystem::path cache_dir)
    : impl_(std::make_unique<Impl>(std::move(modules), std::move(cache_dir))) {
}

Symbolizer::~Symbolizer() {
    try {
        impl_->symbol_cache.save();
    } catch (const std::exception& error) {
        spdlog::debug("symbol cache: {}", error.what());
    }
}

std::vector<SymbolizedFrame> Symbolizer::symbolize(uint64_t address, uint64_t time_ns) {
    try {
        return impl_->symbolize(address, time_ns);
    } catch (const std::exception& error) {
        // Only allocation failures can get here; a report with "??" beats none.
        spdlog::debug("symbolizer: {:#x}: {}", address, error.what());
        SymbolizedFrame frame;
        frame.function = kUnknownFunction;
        frame.address = address;
        return {frame};
    }
}

} // namespace memtrace
