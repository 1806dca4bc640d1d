#include "reports/stack_frames.h"

#include "reports/dump_facts.h"

#include <spdlog/fmt/fmt.h>

namespace memtrace::reports {
namespace {

void write_frame_line(std::ostream& out, size_t index, const SymbolizedFrame& frame,
                      const char* indent) {
    out << indent << '#' << index << ' ' << hex_address(frame.address) << " in "
        << printable(frame.function);
    if (!frame.file.empty()) {
        out << ' ' << printable(frame.file);
        if (frame.line != 0) out << ':' << frame.line;
    }
    if (frame.inlined) out << " [inlined]";
    if (!frame.module.empty()) out << " (" << printable(frame.module) << ')';
    out << '\n';
}

} // namespace

std::vector<SymbolizedFrame> symbolize_stack(Symbolizer& symbolizer, const DumpReader& reader,
                                             uint32_t stack_id) {
    std::vector<SymbolizedFrame> frames;
    const StackTrace* stack = reader.find_stack(stack_id);
    if (stack == nullptr) return frames;
    for (const uint64_t address : stack->frames) {
        std::vector<SymbolizedFrame> resolved = symbolizer.symbolize(address, stack->time_ns);
        if (resolved.empty()) {
            SymbolizedFrame unknown;
            unknown.function = "??";
            unknown.address = address;
            resolved.push_back(std::move(unknown));
        }
        for (SymbolizedFrame& frame : resolved)
            frames.push_back(std::move(frame));
    }
    return frames;
}

std::string hex_address(uint64_t address) {
    return fmt::format("0x{:x}", address);
}

nlohmann::json frames_json(const std::vector<SymbolizedFrame>& frames) {
    nlohmann::json list = nlohmann::json::array();
    for (const SymbolizedFrame& frame : frames) {
        list.push_back({
            {"function", frame.function},
            {"file", frame.file},
            {"line", frame.line},
            {"column", frame.column},
            {"module", frame.module},
            {"address", hex_address(frame.address)},
            {"inlined", frame.inlined},
        });
    }
    return list;
}

void write_frames_text(std::ostream& out, const DumpReader& reader, uint32_t stack_id,
                       const std::vector<SymbolizedFrame>& frames, const char* indent) {
    const StackTrace* stack = reader.find_stack(stack_id);
    if (stack_id == format::kNoStack) {
        out << indent << "(no stack recorded)\n";
        return;
    }
    if (stack == nullptr) {
        out << indent << "(stack #" << stack_id << " was lost with the end of the file)\n";
        return;
    }
    if (frames.empty()) out << indent << "(empty stack)\n";
    size_t index = 0;
    for (const SymbolizedFrame& frame : frames)
        write_frame_line(out, index++, frame, indent);
    if (stack->truncated) {
        out << indent << "... (truncated at " << stack->frames.size()
            << " frames; raise MEMTRACE_DEPTH to see more)\n";
    }
}

void write_brief_frames(std::ostream& out, const DumpReader& reader, Symbolizer& symbolizer,
                        uint32_t stack_id, size_t max_frames, const char* indent) {
    std::vector<SymbolizedFrame> frames = symbolize_stack(symbolizer, reader, stack_id);
    const size_t left_out = frames.size() > max_frames ? frames.size() - max_frames : 0;
    if (left_out == 0) {
        write_frames_text(out, reader, stack_id, frames, indent);
        return;
    }
    frames.resize(max_frames);
    size_t index = 0;
    for (const SymbolizedFrame& frame : frames)
        write_frame_line(out, index++, frame, indent);
    out << indent << "... " << left_out << " more frames (see --json)\n";
}

} // namespace memtrace::reports
