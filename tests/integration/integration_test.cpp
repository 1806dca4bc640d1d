#include "integration_test.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <stdlib.h>

namespace memtrace::integration {

void IntegrationTest::SetUp() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") + "/memtrace-it-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr)
        throw std::runtime_error("mkdtemp failed for " + pattern);
    dir_ = pattern;
}

void IntegrationTest::TearDown() {
    if (HasFailure()) {
        std::cerr << "kept the files of this failed test in " << dir_ << "\n";
        return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

ProcessResult IntegrationTest::trace(const std::string& program_name,
                                     const std::vector<std::string>& args,
                                     std::chrono::milliseconds timeout) {
    std::vector<std::string> program_argv = {program(program_name).string()};
    program_argv.insert(program_argv.end(), args.begin(), args.end());
    ProcessSpec spec =
        memtrace_run_spec(dir_, {"-o", dump_of(program_name).string()}, program_argv);
    spec.timeout = timeout;
    return run_process(spec);
}

std::filesystem::path IntegrationTest::dump_of(const std::string& program_name) const {
    return dir_ / (program_name + ".mtd");
}

std::vector<std::filesystem::path> IntegrationTest::dumps_in_dir() const {
    std::vector<std::filesystem::path> dumps;
    for (const auto& entry : std::filesystem::directory_iterator(dir_))
        if (entry.is_regular_file() && entry.path().extension() == ".mtd")
            dumps.push_back(entry.path());
    std::sort(dumps.begin(), dumps.end());
    return dumps;
}

} // namespace memtrace::integration
