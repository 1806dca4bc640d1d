// The fixture every integration test uses: a fresh temporary directory per test (kept when the
// test fails, so the dumps can be inspected), and shorthands for tracing a program.
#pragma once

#include "leak_expectations.h"
#include "memtrace_cli.h"
#include "subprocess.h"
#include "suite_paths.h"

#include <chrono>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace memtrace::integration {

class IntegrationTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    const std::filesystem::path& dir() const {
        return dir_;
    }

    // `memtrace run -o <dir>/<program>.mtd -- <program> args...`, run in dir().
    ProcessResult trace(const std::string& program_name, const std::vector<std::string>& args = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(60));
    // Where trace() put the dump of program_name.
    std::filesystem::path dump_of(const std::string& program_name) const;

    // The regular files in dir() whose names end with ".mtd", sorted.
    std::vector<std::filesystem::path> dumps_in_dir() const;

private:
    std::filesystem::path dir_;
};

} // namespace memtrace::integration
