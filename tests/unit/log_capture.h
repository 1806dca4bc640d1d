// Routes spdlog's default logger into a string for the life of the object, so tests can check
// what the analyzer warned about.
#pragma once

#include <memory>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sstream>
#include <string>

namespace memtrace::test {

class LogCapture {
public:
    LogCapture() : previous_(spdlog::default_logger()) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
        auto logger = std::make_shared<spdlog::logger>("capture", std::move(sink));
        logger->set_pattern("%l: %v");
        spdlog::set_default_logger(std::move(logger));
    }
    ~LogCapture() {
        spdlog::set_default_logger(previous_);
    }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    std::string text() const {
        return stream_.str();
    }
    // Lines logged at warning level.
    size_t warnings() const {
        size_t count = 0;
        std::istringstream lines(stream_.str());
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("warning: ", 0) == 0) ++count;
        }
        return count;
    }

private:
    std::shared_ptr<spdlog::logger> previous_;
    std::ostringstream stream_;
};

} // namespace memtrace::test
