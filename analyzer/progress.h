// A one-line progress report on stderr for long reads: "memtrace: reading dump 42% (1.2 GB of
// 2.9 GB)", redrawn in place at most four times a second. Only when stderr is a terminal, only
// once the work has taken more than half a second, and never when quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace memtrace {

class Progress {
public:
    // `what` names the work ("reading dump"); `total` is in bytes. `wanted` false turns this
    // one off whatever the terminal.
    Progress(std::string what, uint64_t total, bool wanted = true);
    ~Progress(); // erases the line if one was drawn
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // Cheap enough to call per frame or per chunk: looks at the clock, draws rarely.
    void update(uint64_t done);

    // Process-wide switch for --quiet.
    static void set_quiet(bool quiet);

private:
    std::string what_;
    uint64_t total_;
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_;
};

} // namespace memtrace
