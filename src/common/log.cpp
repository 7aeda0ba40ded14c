#include "common/log.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "common/json.hpp"

namespace parley::log {

namespace {

// Appends formatted lines to a buffer and writes it to stdout when it grows past a threshold or
// on flush; spdlog's own stdout sink flushes after every line.
class BufferedStdoutSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    ~BufferedStdoutSink() override { write_out(); }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        buffer_.append(formatted.data(), formatted.size());
        if (buffer_.size() >= kThreshold) {
            write_out();
        }
    }

    void flush_() override { write_out(); }

private:
    static constexpr std::size_t kThreshold = 32 * 1024;

    void write_out() {
        std::size_t off = 0;
        while (off < buffer_.size()) {
            const auto n = ::write(STDOUT_FILENO, buffer_.data() + off, buffer_.size() - off);
            if (n <= 0) {
                break;  // stdout closed: drop the lines rather than block the server
            }
            off += static_cast<std::size_t>(n);
        }
        buffer_.clear();
    }

    std::string buffer_;
};

std::shared_ptr<spdlog::logger>& logger() {
    static std::shared_ptr<spdlog::logger> instance;
    return instance;
}

spdlog::level::level_enum to_spdlog(Level level) {
    switch (level) {
        case Level::debug:
            return spdlog::level::debug;
        case Level::info:
            return spdlog::level::info;
        case Level::warn:
            return spdlog::level::warn;
        case Level::error:
            return spdlog::level::err;
    }
    return spdlog::level::info;
}

void append_value(std::string& out, const Field::Value& value) {
    if (const auto* s = std::get_if<std::string_view>(&value)) {
        out.push_back('"');
        json::escape_into(out, *s);
        out.push_back('"');
    } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
        fmt::format_to(std::back_inserter(out), "{}", *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
        fmt::format_to(std::back_inserter(out), "{:.3f}", *d);
    } else {
        out += std::get<bool>(value) ? "true" : "false";
    }
}

}  // namespace

void init(Level level) {
    auto sink = std::make_shared<BufferedStdoutSink>();
    auto instance = std::make_shared<spdlog::logger>("parley", std::move(sink));
    instance->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})", spdlog::pattern_time_type::utc
    ));
    instance->set_level(to_spdlog(level));
    instance->flush_on(spdlog::level::warn);
    logger() = instance;
    spdlog::set_default_logger(instance);
    spdlog::flush_every(std::chrono::seconds(1));
}

bool parse_level(std::string_view text, Level& out) noexcept {
    if (text == "debug") {
        out = Level::debug;
    } else if (text == "info") {
        out = Level::info;
    } else if (text == "warn" || text == "warning") {
        out = Level::warn;
    } else if (text == "error") {
        out = Level::error;
    } else {
        return false;
    }
    return true;
}

bool enabled(Level level) noexcept {
    const auto& l = logger();
    return l && l->should_log(to_spdlog(level));
}

void write(Level level, std::string_view msg, std::span<const Field> fields) {
    const auto& l = logger();
    if (!l) {
        return;  // logging not initialised (unit tests): stay silent
    }
    if (!l->should_log(to_spdlog(level))) {
        return;
    }
    std::string line;
    line.reserve(128);
    line += "\"msg\":\"";
    json::escape_into(line, msg);
    line.push_back('"');
    for (const auto& f : fields) {
        line += ",\"";
        json::escape_into(line, f.key);
        line += "\":";
        append_value(line, f.value);
    }
    l->log(to_spdlog(level), "{}", line);
}

void flush() {
    if (const auto& l = logger()) {
        l->flush();
    }
}

}  // namespace parley::log
