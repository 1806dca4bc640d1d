#include "symbol_cache.h"

#include "hex.h"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <spdlog/spdlog.h>
#include <sstream>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace memtrace {
namespace {

// Text, one field per tab:
//   memtrace-symbols 1
//   source <path> <size> <mtime ns>
//   <relative address, hex> <frame count>         then that many lines of
//   <inlined 0|1> <line> <column> <function> <file>
constexpr std::string_view kMagic = "memtrace-symbols 1";
constexpr size_t kMaxFramesPerAddress = 256;
// A library that many programs call into keeps gaining addresses; past this, no more.
constexpr size_t kMaxAddresses = 100'000;

std::vector<std::string_view> split_tabs(std::string_view line) {
    std::vector<std::string_view> fields;
    for (size_t start = 0;;) {
        const size_t tab = line.find('\t', start);
        fields.push_back(line.substr(start, tab - start));
        if (tab == std::string_view::npos) break;
        start = tab + 1;
    }
    return fields;
}

template <typename T> bool parse_number(std::string_view text, T& value, int base = 10) {
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    return error == std::errc() && end == text.data() + text.size();
}

bool storable(const std::string& text) {
    return text.find_first_of("\t\n\r") == std::string::npos;
}

} // namespace

SymbolCache::SymbolCache(std::filesystem::path dir) : dir_(std::move(dir)) {
}

std::filesystem::path SymbolCache::default_dir() {
    if (const char* chosen = std::getenv("MEMTRACE_SYMBOL_CACHE")) {
        const std::string_view value = chosen;
        if (value.empty() || value == "off" || value == "0") return {};
        return std::filesystem::path(value);
    }
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/') {
        return std::filesystem::path(xdg) / "memtrace" / "symbols";
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
        return std::filesystem::path(home) / ".cache" / "memtrace" / "symbols";
    }
    return {};
}

bool SymbolCache::stat_source(const std::string& path, Source& source) {
    struct stat info;
    if (path.empty() || ::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return false;
    source.path = path;
    source.size = static_cast<uint64_t>(info.st_size);
    source.mtime_ns = static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 +
                      static_cast<int64_t>(info.st_mtim.tv_nsec);
    return true;
}

SymbolCache::Module& SymbolCache::module(const std::string& build_id) {
    auto [it, inserted] = modules_.try_emplace(build_id);
    if (inserted && enabled()) load(build_id, it->second);
    return it->second;
}

void SymbolCache::load(const std::string& build_id, Module& into) const {
    std::ifstream in(dir_ / hex(build_id));
    if (!in) return;
    std::string line;
    if (!std::getline(in, line) || line != kMagic) return;
    if (!std::getline(in, line)) return;
    const auto source_fields = split_tabs(line);
    Source recorded;
    if (source_fields.size() != 4 || source_fields[0] != "source" ||
        !parse_number(source_fields[2], recorded.size) ||
        !parse_number(source_fields[3], recorded.mtime_ns)) {
        return;
    }
    recorded.path = std::string(source_fields[1]);
    Source now;
    if (!stat_source(recorded.path, now) || !(now == recorded)) return; // rebuilt, updated, gone
    std::unordered_map<uint64_t, std::vector<SymbolizedFrame>> frames;
    while (std::getline(in, line)) {
        const auto head = split_tabs(line);
        uint64_t relative = 0;
        size_t count = 0;
        if (head.size() != 2 || !parse_number(head[0], relative, 16) ||
            !parse_number(head[1], count) || count == 0 || count > kMaxFramesPerAddress) {
            return; // damaged: all or nothing
        }
        std::vector<SymbolizedFrame> list;
        for (size_t i = 0; i < count; ++i) {
            if (!std::getline(in, line)) return;
            const auto fields = split_tabs(line);
            SymbolizedFrame frame;
            if (fields.size() != 5 || (fields[0] != "0" && fields[0] != "1") ||
                !parse_number(fields[1], frame.line) || !parse_number(fields[2], frame.column)) {
                return;
            }
            frame.inlined = fields[0] == "1";
            frame.function = std::string(fields[3]);
            frame.file = std::string(fields[4]);
            list.push_back(std::move(frame));
        }
        frames[relative] = std::move(list);
    }
    into.source = std::move(recorded);
    into.frames = std::move(frames);
    into.valid = true;
}

const std::vector<SymbolizedFrame>* SymbolCache::find(const std::string& build_id,
                                                      uint64_t relative) {
    if (!enabled() || build_id.empty()) return nullptr;
    Module& entry = module(build_id);
    if (!entry.valid) return nullptr;
    const auto it = entry.frames.find(relative);
    return it == entry.frames.end() ? nullptr : &it->second;
}

void SymbolCache::add(const std::string& build_id, const std::string& debug_file, uint64_t relative,
                      const std::vector<SymbolizedFrame>& frames) {
    if (!enabled() || build_id.empty() || frames.empty() || frames.size() > kMaxFramesPerAddress) {
        return;
    }
    for (const SymbolizedFrame& frame : frames) {
        if (!storable(frame.function) || !storable(frame.file)) return;
    }
    Module& entry = module(build_id);
    if (!entry.valid || entry.source.path != debug_file) {
        // A first entry, or debug information found elsewhere than last time: start afresh.
        Source source;
        if (!storable(debug_file) || !stat_source(debug_file, source)) return;
        entry.source = std::move(source);
        entry.frames.clear();
        entry.valid = true;
    }
    if (entry.frames.size() >= kMaxAddresses) return;
    std::vector<SymbolizedFrame>& stored = entry.frames[relative];
    stored = frames;
    for (SymbolizedFrame& frame : stored) {
        frame.module.clear();
        frame.address = 0;
    }
    entry.dirty = true;
}

void SymbolCache::save() {
    if (!enabled()) return;
    for (auto& [build_id, entry] : modules_) {
        if (!entry.dirty) continue;
        save(build_id, entry);
        entry.dirty = false;
    }
}

void SymbolCache::save(const std::string& build_id, const Module& entry) const {
    std::ostringstream text;
    text << kMagic << '\n'
         << "source\t" << entry.source.path << '\t' << entry.source.size << '\t'
         << entry.source.mtime_ns << '\n';
    for (const auto& [relative, frames] : entry.frames) {
        text << std::hex << relative << std::dec << '\t' << frames.size() << '\n';
        for (const SymbolizedFrame& frame : frames) {
            text << (frame.inlined ? '1' : '0') << '\t' << frame.line << '\t' << frame.column
                 << '\t' << frame.function << '\t' << frame.file << '\n';
        }
    }
    const std::string content = text.str();
    std::error_code error;
    std::filesystem::create_directories(dir_, error);
    const std::filesystem::path final_path = dir_ / hex(build_id);
    // A file of its own, then a rename: reports running at the same time each leave a whole
    // file (the last one wins; what it lacks is found again next time).
    std::string temporary = final_path.string() + ".XXXXXX";
    const int fd = ::mkstemp(temporary.data());
    if (fd < 0) {
        spdlog::debug("symbol cache: cannot write in {}", dir_.string());
        return;
    }
    size_t written = 0;
    while (written < content.size()) {
        const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n <= 0) break;
        written += static_cast<size_t>(n);
    }
    const bool ok = ::close(fd) == 0 && written == content.size();
    if (!ok || std::rename(temporary.c_str(), final_path.c_str()) != 0) {
        spdlog::debug("symbol cache: cannot write {}", final_path.string());
        ::unlink(temporary.c_str());
    }
}

} // namespace memtrace
