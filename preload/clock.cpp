#include "clock.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

namespace memtrace::preload {

constinit EventClock g_event_clock{};
constinit uint64_t g_record_epoch = 0;

namespace {

// Long enough that the jitter of the two clock readings (~0.1 us) is below 0.1 %.
constexpr uint64_t kMinCalibrationNs = 200 * 1000;

constinit uint64_t g_calibration_tsc = 0;
constinit uint64_t g_calibration_ns = 0;

// The TSC is trusted only where the kernel trusts it for its own clock.
bool kernel_clock_is_tsc() {
    const int fd =
        open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY);
    if (fd < 0) return false;
    char name[32] = {};
    const ssize_t n = read(fd, name, sizeof(name) - 1);
    close(fd);
    return n >= 3 && memcmp(name, "tsc", 3) == 0 && (n == 3 || name[3] == '\n');
}

} // namespace

void event_clock_start_calibration() {
    g_event_clock.use_tsc = false;
    if (!kernel_clock_is_tsc()) return;
    g_calibration_ns = monotonic_ns();
    g_calibration_tsc = __rdtsc();
}

void event_clock_finish_calibration() {
    if (g_calibration_tsc == 0) return;
    uint64_t ns = monotonic_ns();
    while (ns - g_calibration_ns < kMinCalibrationNs)
        ns = monotonic_ns();
    const uint64_t tsc = __rdtsc();
    if (tsc <= g_calibration_tsc) return;
    const auto scaled = static_cast<unsigned __int128>(ns - g_calibration_ns) << 32;
    g_event_clock.ns_per_tick_q32 = static_cast<uint64_t>(scaled / (tsc - g_calibration_tsc));
    g_event_clock.tsc_origin = tsc;
    g_event_clock.ns_origin = ns;
    g_event_clock.use_tsc = g_event_clock.ns_per_tick_q32 != 0;
}

} // namespace memtrace::preload
