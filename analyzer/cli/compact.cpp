// `memtrace compact DUMP [-o OUT] [--level N] [--time-resolution NS] [-q]`
#include "cli/commands.h"
#include "compact_writer.h"
#include "progress.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <spdlog/fmt/fmt.h>

namespace memtrace::cli {

void add_compact_command(CLI::App& app, int* exit_code) {
    struct Options {
        std::string dump;
        std::string output;
        int level = CompactOptions{}.level;
        uint64_t time_resolution = CompactOptions{}.time_quantum_ns;
        bool quiet = false;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "compact", "Rewrite a raw dump in its compacted form (merged in time order, zstd)");
    command->add_option("DUMP", options->dump, "Raw dump written by libmemtrace.so")->required();
    command
        ->add_option("-o,--output", options->output,
                     "Write the compacted dump here and keep DUMP (default: replace DUMP once "
                     "the compacted dump is safely on disk)")
        ->type_name("FILE");
    command->add_option("--level", options->level, "zstd compression level (default 11)")
        ->type_name("N")
        ->check(CLI::Range(1, 19));
    command
        ->add_option("--time-resolution", options->time_resolution,
                     "Keep event times to this many nanoseconds (default 100000; 1 = exact)")
        ->type_name("NS")
        ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
    command->add_flag("-q,--quiet", options->quiet, "No progress line and no summary");
    command->callback([options, exit_code] {
        if (options->quiet) Progress::set_quiet(true);
        if (is_compacted_dump(options->dump)) {
            if (!options->quiet) {
                std::fprintf(stderr, "memtrace: %s is already compacted; nothing to do\n",
                             options->dump.c_str());
            }
            *exit_code = 0;
            return;
        }
        CompactOptions compact;
        compact.level = options->level;
        compact.time_quantum_ns = options->time_resolution;
        const CompactResult result =
            options->output.empty() ? compact_dump_in_place(options->dump, compact)
                                    : write_compacted_dump(options->dump, options->output, compact);
        if (!options->quiet) {
            const std::string& written = options->output.empty() ? options->dump : options->output;
            std::fprintf(
                stderr, "%s\n",
                fmt::format("memtrace: compacted {} events: {} bytes -> {} bytes ({:.2f} "
                            "bytes per event) in {}",
                            result.events, result.raw_bytes, result.compacted_bytes,
                            result.events ? double(result.compacted_bytes) / result.events : 0.0,
                            written)
                    .c_str());
        }
        *exit_code = 0;
    });
}

} // namespace memtrace::cli
