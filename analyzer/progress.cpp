#include "progress.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <spdlog/fmt/fmt.h>
#include <unistd.h>

namespace memtrace {
namespace {

std::atomic<bool> g_quiet{false};

constexpr auto kFirstDrawAfter = std::chrono::milliseconds(500);
constexpr auto kRedrawEvery = std::chrono::milliseconds(250);

std::string human_bytes(uint64_t bytes) {
    if (bytes >= 1'000'000'000) return fmt::format("{:.1f} GB", bytes / 1e9);
    if (bytes >= 1'000'000) return fmt::format("{:.1f} MB", bytes / 1e6);
    return fmt::format("{:.1f} kB", bytes / 1e3);
}

} // namespace

void Progress::set_quiet(bool quiet) {
    g_quiet.store(quiet, std::memory_order_relaxed);
}

Progress::Progress(std::string what, uint64_t total, bool wanted)
    : what_(std::move(what)), total_(total),
      enabled_(wanted && total > 0 && !g_quiet.load(std::memory_order_relaxed) &&
               ::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
}

Progress::~Progress() {
    if (drawn_) {
        std::fputs("\r\033[K", stderr);
        std::fflush(stderr);
    }
}

void Progress::update(uint64_t done) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - start_ < kFirstDrawAfter || (drawn_ && now - last_draw_ < kRedrawEvery)) return;
    last_draw_ = now;
    drawn_ = true;
    done = std::min(done, total_);
    const std::string line =
        fmt::format("\rmemtrace: {} {}% ({} of {})\033[K", what_, done * 100 / total_,
                    human_bytes(done), human_bytes(total_));
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

} // namespace memtrace
