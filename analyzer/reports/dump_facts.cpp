#include "reports/dump_facts.h"

#include <cstring>
#include <spdlog/fmt/fmt.h>

namespace memtrace::reports {
namespace {

namespace f = memtrace::format;

std::string signal_name(int signal) {
    const char* abbreviation = signal > 0 && signal < 128 ? sigabbrev_np(signal) : nullptr;
    if (abbreviation == nullptr) return fmt::format("signal {}", signal);
    return fmt::format("signal {} (SIG{})", signal, abbreviation);
}

} // namespace

std::string program_name(const DumpReader& reader) {
    const std::string& exe = reader.process().exe_path;
    const size_t slash = exe.rfind('/');
    std::string name = slash == std::string::npos ? exe : exe.substr(slash + 1);
    return name.empty() ? "?" : name;
}

const char* end_how(const f::FileHeader& header) {
    switch (static_cast<f::EndReason>(header.end_reason)) {
    case f::EndReason::Exit:
    case f::EndReason::QuickExit:
        return "exit";
    case f::EndReason::Signal:
        return "signal";
    case f::EndReason::Killed:
        return "killed";
    case f::EndReason::Exec:
        return "exec";
    case f::EndReason::Unknown:
        break;
    }
    return "unknown";
}

nlohmann::json end_json(const f::FileHeader& header) {
    const auto reason = static_cast<f::EndReason>(header.end_reason);
    nlohmann::json end = {{"how", end_how(header)}, {"code", nullptr}, {"signal", nullptr}};
    if (reason == f::EndReason::Exit || reason == f::EndReason::QuickExit) {
        end["code"] = header.exit_code;
    }
    if (reason == f::EndReason::Signal || reason == f::EndReason::Killed) {
        end["signal"] = header.signal;
    }
    return end;
}

std::string describe_end(const f::FileHeader& header) {
    switch (static_cast<f::EndReason>(header.end_reason)) {
    case f::EndReason::Exit:
        return fmt::format("exited with code {}", header.exit_code);
    case f::EndReason::QuickExit:
        return fmt::format("exited with code {} (_exit, without exit handlers)", header.exit_code);
    case f::EndReason::Signal:
        return "died of " + signal_name(header.signal);
    case f::EndReason::Killed:
        return "was killed by " + signal_name(header.signal);
    case f::EndReason::Exec:
        return "replaced its image by exec (the new image has its own dump)";
    case f::EndReason::Unknown:
        break;
    }
    return "did not record its end (still running, or killed without memtrace run watching)";
}

std::string incompleteness_notes(const DumpReader& reader) {
    const f::FileHeader& header = reader.header();
    std::string notes;
    if (!reader.complete()) {
        notes += "NOTE: the process did not end cleanly, so this dump is incomplete: blocks shown "
                 "as live may have been freed later, and the last events may be missing.\n";
    }
    if (reader.cut_short()) notes += "NOTE: the dump file is cut short.\n";
    if ((header.flags & f::kFlagOutOfSpace) != 0) {
        notes += "NOTE: the disk filled up while tracing; later events are missing.\n";
    }
    if ((header.flags & f::kFlagTracingFailed) != 0) {
        notes += "NOTE: tracing hit an internal limit and stopped recording some events.\n";
    }
    if ((header.flags & f::kFlagStackTableFull) != 0) {
        notes += "NOTE: the stack table filled up; later allocations have no stack.\n";
    }
    return notes;
}

nlohmann::json flags_json(const f::FileHeader& header) {
    nlohmann::json flags = nlohmann::json::array();
    if ((header.flags & f::kFlagOutOfSpace) != 0) flags.push_back("out_of_space");
    if ((header.flags & f::kFlagTracingFailed) != 0) flags.push_back("tracing_failed");
    if ((header.flags & f::kFlagStackTableFull) != 0) flags.push_back("stack_table_full");
    if ((header.flags & f::kFlagForkChild) != 0) flags.push_back("fork_child");
    return flags;
}

double seconds_between(uint64_t from_ns, uint64_t to_ns) {
    return to_ns > from_ns ? static_cast<double>(to_ns - from_ns) / 1e9 : 0.0;
}

std::string printable(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) c = '?';
    }
    return out;
}

std::string human_bytes(uint64_t bytes) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = static_cast<double>(bytes);
    size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
        value /= 1024.0;
        ++unit;
    }
    return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string dump_json(const nlohmann::json& value) {
    return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace memtrace::reports
