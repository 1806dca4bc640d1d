// Symbolizer against real libraries: each fixture library is dlopen()ed, hands back a return
// address inside a known function along with the source line of that call, and the module is
// described the way the preload records it (dl_iterate_phdr: path, bias, PT_LOAD range,
// build-id note).
#include "fixture.h"
#include "symbol_cache.h"
#include "symbolizer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <elf.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <link.h>
#include <optional>
#include <string>
#include <unistd.h>

namespace memtrace {
namespace {

constexpr uint64_t kLoadTime = 1'000;
constexpr uint64_t kCaptureTime = 5'000;

class Library {
public:
    explicit Library(const char* path) : handle_(dlopen(path, RTLD_NOW | RTLD_LOCAL)) {
    }
    ~Library() {
        close();
    }
    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;

    bool is_open() const {
        return handle_ != nullptr;
    }
    template <class Function> Function function(const char* name) const {
        return reinterpret_cast<Function>(dlsym(handle_, name));
    }
    void close() {
        if (handle_ != nullptr) dlclose(handle_);
        handle_ = nullptr;
    }

private:
    void* handle_;
};

uint64_t align_up(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}

std::string build_id_of(const dl_phdr_info& object) {
    for (int i = 0; i < object.dlpi_phnum; ++i) {
        const ElfW(Phdr)& segment = object.dlpi_phdr[i];
        if (segment.p_type != PT_NOTE) continue;
        const uint64_t alignment = segment.p_align >= 8 ? 8 : 4;
        const char* cursor = reinterpret_cast<const char*>(object.dlpi_addr + segment.p_vaddr);
        const char* end = cursor + segment.p_memsz;
        while (cursor + sizeof(ElfW(Nhdr)) <= end) {
            const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(cursor);
            const char* name = cursor + sizeof(ElfW(Nhdr));
            const char* desc = name + align_up(note->n_namesz, alignment);
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
                std::memcmp(name, "GNU", 4) == 0) {
                return std::string(desc, note->n_descsz);
            }
            cursor = desc + align_up(note->n_descsz, alignment);
        }
    }
    return {};
}

struct ModuleSearch {
    uint64_t address = 0;
    std::optional<ModuleInfo> found;
};

int visit_object(dl_phdr_info* object, size_t, void* data) {
    auto* search = static_cast<ModuleSearch*>(data);
    uint64_t start = UINT64_MAX;
    uint64_t end = 0;
    for (int i = 0; i < object->dlpi_phnum; ++i) {
        const ElfW(Phdr)& segment = object->dlpi_phdr[i];
        if (segment.p_type != PT_LOAD) continue;
        start = std::min<uint64_t>(start, object->dlpi_addr + segment.p_vaddr);
        end = std::max<uint64_t>(end, object->dlpi_addr + segment.p_vaddr + segment.p_memsz);
    }
    if (search->address < start || search->address >= end) return 0;
    ModuleInfo info;
    info.id = 1;
    info.path = object->dlpi_name;
    info.build_id = build_id_of(*object);
    info.load_bias = object->dlpi_addr;
    info.start = start;
    info.end = end;
    info.load_time_ns = kLoadTime;
    search->found = info;
    return 1;
}

// The module holding `address`, as the preload would record it.
ModuleInfo module_containing(const void* address) {
    ModuleSearch search;
    search.address = reinterpret_cast<uint64_t>(address);
    dl_iterate_phdr(&visit_object, &search);
    if (!search.found) {
        ADD_FAILURE() << "no loaded object contains " << address;
        return {};
    }
    EXPECT_FALSE(search.found->build_id.empty()) << search.found->path << " has no build-id";
    return *search.found;
}

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A frame carrying nothing but the module and the address.
void expect_address_only(const SymbolizedFrame& frame, const std::string& module,
                         uint64_t address) {
    EXPECT_EQ(frame.function, "??");
    EXPECT_EQ(frame.file, "");
    EXPECT_EQ(frame.line, 0u);
    EXPECT_EQ(frame.module, module);
    EXPECT_EQ(frame.address, address);
    EXPECT_FALSE(frame.inlined);
}

struct O0Capture {
    uint64_t address = 0;
    int line = 0;
    ModuleInfo module;
};

O0Capture capture_in_o0_fixture(Library& library) {
    O0Capture capture;
    auto locate = library.function<void (*)(CallSite*)>("fixture_o0_locate");
    if (locate == nullptr) {
        ADD_FAILURE() << "fixture_o0_locate not found";
        return capture;
    }
    CallSite site{};
    locate(&site);
    capture.address = reinterpret_cast<uint64_t>(site.return_address);
    capture.line = site.line;
    capture.module = module_containing(site.return_address);
    return capture;
}

void expect_widget_locate(const std::vector<SymbolizedFrame>& frames, const O0Capture& capture) {
    ASSERT_EQ(frames.size(), 1u);
    const SymbolizedFrame& frame = frames[0];
    EXPECT_EQ(frame.function, "fixture::Widget::locate(CallSite*) const");
    EXPECT_TRUE(frame.file.starts_with("/")) << frame.file;
    EXPECT_TRUE(ends_with(frame.file, "/fixture_o0.cpp")) << frame.file;
    EXPECT_EQ(frame.line, static_cast<uint32_t>(capture.line));
    EXPECT_EQ(frame.module, FIXTURE_O0_PATH);
    EXPECT_EQ(frame.address, capture.address);
    EXPECT_FALSE(frame.inlined);
}

TEST(Symbolizer, NamesMethodOfClassInNamespaceWithFileAndLineOfTheCall) {
    Library library(FIXTURE_O0_PATH);
    ASSERT_TRUE(library.is_open()) << dlerror();
    const O0Capture capture = capture_in_o0_fixture(library);
    ASSERT_GT(capture.line, 0);
    EXPECT_EQ(capture.module.path, FIXTURE_O0_PATH);

    Symbolizer symbolizer({capture.module});
    expect_widget_locate(symbolizer.symbolize(capture.address, kCaptureTime), capture);
    // Again, now from the cache.
    expect_widget_locate(symbolizer.symbolize(capture.address, kCaptureTime), capture);
}

// Runs the inline fixture's locator, which records its call sites.
void locate_inline_sites(Library& library, InlineSites* sites) {
    ASSERT_TRUE(library.is_open()) << dlerror();
    auto locate = library.function<void (*)(InlineSites*)>("fixture_inline_locate");
    ASSERT_NE(locate, nullptr);
    locate(sites);
}

TEST(Symbolizer, InlinedHelperComesFirstWithTheCallSiteInItsCaller) {
    Library library(FIXTURE_INLINE_PATH);
    InlineSites sites{};
    ASSERT_NO_FATAL_FAILURE(locate_inline_sites(library, &sites));
    ASSERT_GT(sites.helper.line, 0);
    ASSERT_GT(sites.outer_line, 0);
    const uint64_t address = reinterpret_cast<uint64_t>(sites.helper.return_address);

    Symbolizer symbolizer({module_containing(sites.helper.return_address)});
    const auto frames = symbolizer.symbolize(address, kCaptureTime);

    ASSERT_EQ(frames.size(), 2u);
    const SymbolizedFrame& helper = frames[0];
    // GCC gives internal-linkage functions no linkage name: qualified, without parameters.
    EXPECT_EQ(helper.function, "fixture::inline_helper");
    EXPECT_TRUE(ends_with(helper.file, "/fixture_inline.cpp")) << helper.file;
    EXPECT_EQ(helper.line, static_cast<uint32_t>(sites.helper.line));
    EXPECT_TRUE(helper.inlined);

    const SymbolizedFrame& outer = frames[1];
    EXPECT_EQ(outer.function, "fixture_inline_locate");
    EXPECT_TRUE(ends_with(outer.file, "/fixture_inline.cpp")) << outer.file;
    EXPECT_EQ(outer.line, static_cast<uint32_t>(sites.outer_line));
    EXPECT_FALSE(outer.inlined);

    for (const SymbolizedFrame& frame : frames) {
        EXPECT_TRUE(frame.file.starts_with("/")) << frame.file;
        EXPECT_EQ(frame.module, FIXTURE_INLINE_PATH);
        EXPECT_EQ(frame.address, address);
    }
}

TEST(Symbolizer, SymbolCacheGivesTheSameFramesWithoutDebugInfoAndServesTheNextSymbolizer) {
    Library library(FIXTURE_INLINE_PATH);
    InlineSites sites{};
    ASSERT_NO_FATAL_FAILURE(locate_inline_sites(library, &sites));
    const uint64_t address = reinterpret_cast<uint64_t>(sites.helper.return_address);
    const ModuleInfo module = module_containing(sites.helper.return_address);
    ASSERT_FALSE(module.build_id.empty());
    const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                      ("memtrace_symcache_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);

    std::vector<SymbolizedFrame> fresh;
    {
        Symbolizer symbolizer({module}, dir);
        fresh = symbolizer.symbolize(address, kCaptureTime);
    } // saved here
    ASSERT_EQ(fresh.size(), 2u);
    ASSERT_FALSE(std::filesystem::is_empty(dir));

    // The same module loaded elsewhere (another run): the cache is keyed by the address
    // relative to the load bias, and the frames carry this run's address.
    ModuleInfo moved = module;
    const uint64_t shift = 0x100000000;
    moved.load_bias += shift;
    moved.start += shift;
    moved.end += shift;
    Symbolizer cached({moved}, dir);
    const auto again = cached.symbolize(address + shift, kCaptureTime);
    ASSERT_EQ(again.size(), fresh.size());
    for (size_t i = 0; i < fresh.size(); ++i) {
        EXPECT_EQ(again[i].function, fresh[i].function);
        EXPECT_EQ(again[i].file, fresh[i].file);
        EXPECT_EQ(again[i].line, fresh[i].line);
        EXPECT_EQ(again[i].column, fresh[i].column);
        EXPECT_EQ(again[i].inlined, fresh[i].inlined);
        EXPECT_EQ(again[i].module, FIXTURE_INLINE_PATH);
        EXPECT_EQ(again[i].address, address + shift);
    }
    std::filesystem::remove_all(dir);
}

TEST(Symbolizer, SymbolCacheIsNotAskedForAReplacedFile) {
    Library library(FIXTURE_O0_PATH);
    ASSERT_TRUE(library.is_open()) << dlerror();
    const O0Capture capture = capture_in_o0_fixture(library);
    const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                      ("memtrace_symcache_replaced_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    // A cache entry for the recorded build-id, which the file on disk no longer has.
    ModuleInfo replaced = capture.module;
    replaced.build_id = std::string(20, '\x5b');
    {
        SymbolCache cache(dir);
        SymbolizedFrame frame;
        frame.function = "from_the_cache";
        cache.add(replaced.build_id, FIXTURE_O0_PATH, capture.address - replaced.load_bias,
                  {frame});
        cache.save();
    }
    Symbolizer symbolizer({replaced}, dir);
    const auto frames = symbolizer.symbolize(capture.address, kCaptureTime);
    ASSERT_EQ(frames.size(), 1u);
    expect_address_only(frames[0], FIXTURE_O0_PATH, capture.address);
    std::filesystem::remove_all(dir);
}

TEST(Symbolizer, SymbolizesALibraryAfterDlcloseFromTheFileOnDisk) {
    Library library(FIXTURE_O0_PATH);
    ASSERT_TRUE(library.is_open()) << dlerror();
    O0Capture capture = capture_in_o0_fixture(library);
    library.close();
    ASSERT_EQ(dlopen(FIXTURE_O0_PATH, RTLD_NOW | RTLD_NOLOAD), nullptr)
        << "the fixture is still loaded, the test would prove nothing";

    capture.module.unload_time_ns = kCaptureTime + 1;
    Symbolizer symbolizer({capture.module});
    expect_widget_locate(symbolizer.symbolize(capture.address, kCaptureTime), capture);
}

TEST(Symbolizer, PicksTheModuleMappedAtTheTimeOfTheCapture) {
    Library library(FIXTURE_O0_PATH);
    ASSERT_TRUE(library.is_open()) << dlerror();
    const O0Capture capture = capture_in_o0_fixture(library);

    // The fixture lived in [100, 200); later another library took the same addresses.
    ModuleInfo earlier = capture.module;
    earlier.load_time_ns = 100;
    earlier.unload_time_ns = 200;
    ModuleInfo later = capture.module;
    later.id = 2;
    later.path = "/nonexistent/memtrace-test/replacement.so";
    later.build_id.clear();
    later.load_time_ns = 300;
    later.unload_time_ns = UINT64_MAX;
    Symbolizer symbolizer({later, earlier});

    expect_widget_locate(symbolizer.symbolize(capture.address, 150), capture);
    const auto after = symbolizer.symbolize(capture.address, 400);
    ASSERT_EQ(after.size(), 1u);
    expect_address_only(after[0], later.path, capture.address);
    // Between two lifetimes (clock skew): the nearest one.
    expect_widget_locate(symbolizer.symbolize(capture.address, 210), capture);
    EXPECT_EQ(symbolizer.symbolize(capture.address, 290).at(0).module, later.path);
}

TEST(Symbolizer, AddressOutsideEveryModuleHasNoModuleAndUnknownFunction) {
    Library library(FIXTURE_O0_PATH);
    ASSERT_TRUE(library.is_open()) << dlerror();
    const O0Capture capture = capture_in_o0_fixture(library);
    Symbolizer symbolizer({capture.module});

    for (uint64_t address : {uint64_t{0}, uint64_t{0x10}, capture.module.end + 1, UINT64_MAX}) {
        const auto frames = symbolizer.symbolize(address, kCaptureTime);
        ASSERT_EQ(frames.size(), 1u);
        expect_address_only(frames[0], "", address);
    }
}

TEST(Symbolizer, BuildIdMismatchGivesModuleAndAddressOnly) {
    Library library(FIXTURE_O0_PATH);
    ASSERT_TRUE(library.is_open()) << dlerror();
    const O0Capture capture = capture_in_o0_fixture(library);
    ModuleInfo replaced = capture.module;
    replaced.build_id = std::string(20, '\x5a');

    Symbolizer symbolizer({replaced});
    for (int attempt = 0; attempt < 2; ++attempt) {
        const auto frames = symbolizer.symbolize(capture.address, kCaptureTime);
        ASSERT_EQ(frames.size(), 1u);
        expect_address_only(frames[0], FIXTURE_O0_PATH, capture.address);
    }
}

TEST(Symbolizer, MissingFileGivesModuleAndAddressOnly) {
    ModuleInfo gone;
    gone.path = "/nonexistent/memtrace-test/libgone.so";
    gone.build_id = std::string(20, '\x01');
    gone.load_bias = 0x7f0000000000;
    gone.start = 0x7f0000000000;
    gone.end = 0x7f0000010000;
    Symbolizer symbolizer({gone});

    const auto frames = symbolizer.symbolize(0x7f0000001234, kCaptureTime);
    ASSERT_EQ(frames.size(), 1u);
    expect_address_only(frames[0], gone.path, 0x7f0000001234);
}

TEST(Symbolizer, FilesThatAreNotElfGiveModuleAndAddressOnly) {
    const std::string prefix =
        ::testing::TempDir() + "memtrace_symbolizer_" + std::to_string(getpid()) + "_";
    const std::string empty = prefix + "empty.so";
    const std::string text = prefix + "text.so";
    const std::string truncated = prefix + "truncated.so";
    std::ofstream(empty).flush();
    std::ofstream(text) << "this is not an ELF file\n";
    std::ofstream(truncated) << std::string("\x7f"
                                            "ELF\x02\x01\x01",
                                            7)
                             << std::string(40, '\0');

    std::vector<ModuleInfo> modules;
    for (const std::string& path : {empty, text, truncated}) {
        ModuleInfo info;
        info.path = path;
        info.start = 0x10000 * (modules.size() + 1);
        info.end = info.start + 0x1000;
        info.load_bias = info.start;
        modules.push_back(info);
    }
    modules.push_back(modules.back());
    modules.back().path = "/dev"; // a directory
    modules.back().start = modules.back().end;
    modules.back().end += 0x1000;
    Symbolizer symbolizer(modules);

    for (const ModuleInfo& module : modules) {
        const auto frames = symbolizer.symbolize(module.start + 0x10, kCaptureTime);
        ASSERT_EQ(frames.size(), 1u);
        expect_address_only(frames[0], module.path, module.start + 0x10);
    }
    std::remove(empty.c_str());
    std::remove(text.c_str());
    std::remove(truncated.c_str());
}

TEST(Symbolizer, ElfSymbolTableNamesCodeWithoutDebugInfo) {
    Library library(FIXTURE_NODEBUG_PATH);
    ASSERT_TRUE(library.is_open()) << dlerror();
    auto locate = library.function<void (*)(CallSite*)>("fixture_nodebug_locate");
    ASSERT_NE(locate, nullptr);
    CallSite site{};
    locate(&site);

    Symbolizer symbolizer({module_containing(site.return_address)});
    const auto frames =
        symbolizer.symbolize(reinterpret_cast<uint64_t>(site.return_address), kCaptureTime);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].function, "fixture::Gadget::spot(CallSite*)");
    EXPECT_EQ(frames[0].file, "");
    EXPECT_EQ(frames[0].line, 0u);
    EXPECT_EQ(frames[0].module, FIXTURE_NODEBUG_PATH);
}

TEST(Symbolizer, NamesMallocInTheC_Library) {
    // Asked of libc itself, so a sanitizer's interposed malloc does not get in the way.
    void* libc_handle = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(libc_handle, nullptr) << dlerror();
    const void* entry = dlsym(libc_handle, "malloc");
    dlclose(libc_handle);
    ASSERT_NE(entry, nullptr);
    const ModuleInfo libc = module_containing(entry);
    ASSERT_NE(libc.path.find("libc.so"), std::string::npos) << libc.path;

    Symbolizer symbolizer({libc});
    // A return address one past the entry point looks up the entry point itself.
    const uint64_t address = reinterpret_cast<uint64_t>(entry) + 1;
    const auto frames = symbolizer.symbolize(address, kCaptureTime);
    ASSERT_FALSE(frames.empty());
    // glibc's malloc is __libc_malloc (in DWARF, with libc6-dbg) with the alias malloc.
    EXPECT_NE(frames.back().function.find("malloc"), std::string::npos) << frames.back().function;
    EXPECT_EQ(frames.back().module, libc.path);
}

} // namespace
} // namespace memtrace
