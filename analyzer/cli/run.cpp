// `memtrace run [-o FILE] [--depth N] [-q] [--no-compact] -- program args...`: runs the program
// under libmemtrace.so, compacts the dump, and tells the user where it went and what leaked.
#include "cli/commands.h"
#include "cli/gate_options.h"
#include "compact_writer.h"
#include "heap_model.h"
#include "launcher.h"
#include "leak_kinds.h"
#include "memtrace/dump_format.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <signal.h>
#include <string.h>
#include <string>
#include <system_error>
#include <vector>

namespace memtrace::cli {
namespace {

struct RunOptions {
    std::string output;      // MEMTRACE_OUTPUT template; empty for the preload's default
    unsigned depth = 0;      // MEMTRACE_DEPTH; 0 for the preload's default
    std::string sample;      // MEMTRACE_SAMPLE_BYTES as given (validated); empty: not set
    bool quiet = false;      // only errors that kept the program from running
    bool no_compact = false; // keep the raw dumps as the preload wrote them

    // Set PYTHONMALLOC=malloc in the program's environment.
    bool python_malloc = false;
    bool check = false; // --check: judge the dump with the CI gate (cli/check.cpp)
    GateCliOptions gate;
    std::vector<std::string> command;
};

// How `memtrace run` must end: with a status, or by the signal that killed the program.
struct RunOutcome {
    int exit_code = 0;
    int signal = 0;
    std::string main_dump; // empty when the program wrote none
};

// The byte counts MEMTRACE_SAMPLE_BYTES accepts (docs/configuration.md): digits, optionally
// followed by K, M or G (or KB/KiB, MB/MiB, GB/GiB, any case; binary multiples), at most 2^40.
std::optional<uint64_t> parse_sample_bytes(const std::string& text) {
    size_t digits = 0;
    uint64_t value = 0;
    constexpr uint64_t kLimit = uint64_t{1} << 40;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
        value = value * 10 + static_cast<uint64_t>(text[digits] - '0');
        if (value > kLimit) return std::nullopt;
        ++digits;
    }
    if (digits == 0) return std::nullopt;
    std::string suffix;
    for (char c : text.substr(digits))
        suffix += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    uint64_t unit = 1;
    if (!suffix.empty()) {
        const std::string rest = suffix.substr(1);
        if (rest != "" && rest != "b" && rest != "ib") return std::nullopt;
        switch (suffix[0]) {
        case 'k':
            unit = uint64_t{1} << 10;
            break;
        case 'm':
            unit = uint64_t{1} << 20;
            break;
        case 'g':
            unit = uint64_t{1} << 30;
            break;
        default:
            return std::nullopt;
        }
    }
    if (value > kLimit / unit) return std::nullopt;
    return value * unit;
}

void print_error(const std::string& message) {
    std::fprintf(stderr, "memtrace: error: %s\n", message.c_str());
}

void print_note(const std::string& message) {
    std::fprintf(stderr, "memtrace: %s\n", message.c_str());
}

std::string signal_name(int signal) {
    const char* abbreviation = ::sigabbrev_np(signal);
    return abbreviation ? std::string("SIG") + abbreviation : "signal " + std::to_string(signal);
}

std::string count_of(uint64_t n, const char* singular, const char* plural) {
    return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

void report_leaks(const std::string& dump) {
    LeakTotals totals{};
    try {
        totals = compute_leak_totals(dump);
    } catch (const std::exception& e) {
        print_note("cannot read the dump to count leaks: " + std::string(e.what()));
        return;
    }
    const std::string about = totals.estimated ? "about " : "";
    const std::string amount = about + count_of(totals.bytes, "byte", "bytes") + " in " +
                               count_of(totals.blocks, "block", "blocks");
    const std::string reachable = totals.reachable_blocks == 0
                                      ? ""
                                      : " (and " + about +
                                            count_of(totals.reachable_bytes, "byte", "bytes") +
                                            " still reachable)";
    if (!totals.complete) {
        print_note("the dump is incomplete: " + amount + " were still allocated at its end " +
                   "(not necessarily leaks); see: memtrace leaks " + dump);
    } else if (totals.blocks == 0) {
        print_note(totals.reachable_blocks == 0 ? "no leaks: every block was freed"
                                                : "no leaks" + reachable);
    } else {
        print_note("leaked " + amount + reachable + "; see: memtrace leaks " + dump);
    }
}

// Replaces a raw dump by its compacted form. Never loses it: on any failure (a full disk, a
// damaged dump) the raw dump stays and the user is told why.
void compact(const std::string& dump, bool quiet) {
    try {
        CompactOptions options;
        options.progress = !quiet;
        compact_dump_in_place(dump, options);
    } catch (const std::exception& e) {
        print_note("could not compact " + dump + " (" + e.what() + "); the raw dump is kept");
    }
}

// The dump of a program that died by a signal has no end unless the preload caught the signal:
// write it here, where the death is known.
void record_death(const std::string& dump, int signal) {
    try {
        const auto patch = launcher::record_killed_end(dump, signal, launcher::monotonic_now_ns());
        if (patch == launcher::EndPatch::NotADump) {
            print_note(dump + " has no dump header; its end was not recorded");
        }
    } catch (const std::system_error& e) {
        print_note("cannot record the program's death in " + dump + ": " + e.what());
    }
}

void list_other_dumps(const launcher::RunDumps& dumps, pid_t child_pid) {
    std::string list;
    for (const auto& dump : dumps.others) {
        list += (list.empty() ? "" : ", ") + dump.path + " (pid " + std::to_string(dump.pid) +
                (dump.pid == child_pid ? ", before exec)" : ")");
    }
    print_note(count_of(dumps.others.size(), "more dump", "more dumps") +
               " from this run (child processes, or images replaced by exec): " + list);
}

void check_traceable(const std::string& name, const launcher::ExecutableImage& program,
                     const launcher::ExecutableImage& library) {
    using Kind = launcher::ExecutableImage::Kind;
    if (program.kind == Kind::StaticElf) {
        throw launcher::LaunchError(launcher::kExitLaunchFailed,
                                    name + " is statically linked; LD_PRELOAD cannot trace it");
    }
    if (program.kind == Kind::DynamicElf && library.elf_class != 0 &&
        (program.elf_class != library.elf_class || program.machine != library.machine)) {
        throw launcher::LaunchError(launcher::kExitLaunchFailed,
                                    name + " is built for another architecture than " +
                                        "libmemtrace.so; it cannot be traced");
    }
}

RunOutcome run(const RunOptions& options) {
    const std::string library = launcher::find_preload_library();
    if (library.find_first_of(": \t\n") != std::string::npos) {
        throw launcher::LaunchError(
            launcher::kExitLaunchFailed,
            "the path of libmemtrace.so (" + library +
                ") contains a space or colon, which LD_PRELOAD cannot hold");
    }
    const std::string& name = options.command.front();
    const std::string program = launcher::resolve_program(name, std::getenv("PATH"));
    const auto image = launcher::inspect_executable(program);
    check_traceable(name, image, launcher::inspect_executable(library));

    std::unique_ptr<launcher::TemporaryFile> report_paths;
    try {
        report_paths = std::make_unique<launcher::TemporaryFile>("memtrace-run-");
    } catch (const std::system_error& e) {
        throw launcher::LaunchError(launcher::kExitLaunchFailed, e.what());
    }

    std::vector<std::pair<std::string, std::string>> overrides{
        {"LD_PRELOAD", launcher::compose_ld_preload(library, std::getenv("LD_PRELOAD"))},
        {"MEMTRACE_REPORT_PATHS", report_paths->path()},
    };
    if (!options.output.empty()) {
        overrides.emplace_back("MEMTRACE_OUTPUT",
                               std::filesystem::absolute(options.output).string());
    }
    if (options.depth != 0) overrides.emplace_back("MEMTRACE_DEPTH", std::to_string(options.depth));
    if (!options.sample.empty()) {
        overrides.emplace_back("MEMTRACE_SAMPLE_BYTES",
                               std::to_string(parse_sample_bytes(options.sample).value_or(0)));
    }
    // pymalloc serves objects of up to 512 bytes from its own mmap'ed arenas, out of malloc's
    // sight; this makes CPython allocate every object with malloc, so each is traced.
    if (options.python_malloc) overrides.emplace_back("PYTHONMALLOC", "malloc");
    const auto environment = launcher::compose_environment(environ, overrides);

    const launcher::ChildExit exit = launcher::run_and_wait(program, options.command, environment);

    const auto dumps =
        launcher::classify_dumps(launcher::parse_report_paths(report_paths->read_all()), exit.pid);
    report_paths.reset();

    if (exit.signaled && dumps.main) record_death(dumps.main->path, exit.signal);
    if (!options.no_compact) {
        if (dumps.main) compact(dumps.main->path, options.quiet);
        for (const auto& dump : dumps.others)
            compact(dump.path, options.quiet);
    }

    if (!options.quiet) {
        if (exit.signaled) {
            print_note(name + " was killed by " + signal_name(exit.signal));
        }
        if (dumps.main) {
            print_note("dump: " + dumps.main->path);
            if (!options.check) report_leaks(dumps.main->path); // --check prints its verdict
        } else if (image.setid) {
            print_note("no dump was written: " + name +
                       " is setuid or setgid, so the dynamic loader ignored LD_PRELOAD");
        } else {
            print_note("no dump was written: tracing did not start or failed before the dump "
                       "was created (see any messages above)");
        }
        if (!dumps.others.empty()) list_other_dumps(dumps, exit.pid);
    }
    RunOutcome outcome = exit.signaled ? RunOutcome{launcher::shell_status(exit), exit.signal, {}}
                                       : RunOutcome{exit.code, 0, {}};
    if (dumps.main) outcome.main_dump = dumps.main->path;
    return outcome;
}

// --check: the verdict on the program's dump, on stderr. The gate's status (0 or its exit
// code; 1 when it cannot judge) matters only when the program itself succeeded.
int check_run(const RunOutcome& outcome, const GateCliOptions& gate) {
    if (outcome.main_dump.empty()) {
        print_error("--check: the program wrote no dump to check");
        return 1;
    }
    try {
        return run_gate(outcome.main_dump, gate, &std::cerr) ? 0 : gate.exit_code;
    } catch (const std::exception& e) {
        print_error(std::string("--check: ") + e.what());
        return 1;
    }
}

} // namespace

void add_run_command(CLI::App& app, int* exit_code) {
    auto options = std::make_shared<RunOptions>();
    CLI::App* command =
        app.add_subcommand("run", "Run a program with allocation tracing and write its dump");
    command
        ->add_option("-o,--output", options->output,
                     "Dump path; %p is replaced by the pid, %n by the program name "
                     "(default: memtrace.%n.%p.mtd in the working directory)")
        ->type_name("FILE");
    command
        ->add_option("--depth", options->depth, "Stack frames recorded per allocation (default 64)")
        ->type_name("N")
        ->check(CLI::Range(1u, format::kMaxStackDepth));
    command
        ->add_option("--sample", options->sample,
                     "Sample allocations: record about one per N bytes allocated (Poisson "
                     "sampling; accepts 524288, 512K, 1M; 0 records every allocation)")
        ->type_name("N")
        ->check(
            [](const std::string& text) {
                return parse_sample_bytes(text) ? std::string()
                                                : "not a byte count (e.g. 524288, 512K, 1M)";
            },
            "BYTES");
    command->add_flag("-q,--quiet", options->quiet, "Print nothing after the program ends");
    CLI::Option* check = command->add_flag(
        "--check", options->check,
        "Judge the dump with the rules below, as `memtrace check` does (verdict on stderr)");
    add_gate_options(command, options->gate, check);
    command->add_flag("--no-compact", options->no_compact,
                      "Keep the raw dump instead of compacting it after the program ends");
    command->add_flag("--python-malloc", options->python_malloc,
                      "Set PYTHONMALLOC=malloc, so CPython allocates every object with malloc "
                      "and each one is traced (pymalloc's arenas hide objects of up to 512 bytes)");
    command->add_option("program", options->command, "The program and its arguments, after --")
        ->required();
    command->positionals_at_end();
    command->footer("Exit status: the program's own; 125 if memtrace could not start it, "
                    "126 if it is not executable, 127 if it was not found. With --check, when "
                    "the program exits 0: 23 (or --exit-code) if a rule fails, 1 if the dump "
                    "cannot be checked.");
    command->callback([options, exit_code] {
        RunOutcome outcome;
        try {
            outcome = run(*options);
        } catch (const launcher::LaunchError& e) {
            print_error(e.what());
            *exit_code = e.exit_code();
            return;
        } catch (const std::exception& e) {
            print_error(e.what());
            *exit_code = launcher::kExitLaunchFailed;
            return;
        }
        const int gate_status = options->check ? check_run(outcome, options->gate) : 0;
        if (outcome.signal != 0) launcher::terminate_by_signal(outcome.signal);
        *exit_code = outcome.exit_code != 0 ? outcome.exit_code : gate_status;
    });
}

} // namespace memtrace::cli
