// Structured logging: every line is one JSON object ({"ts","level","msg",…fields}) on stdout,
// through spdlog with a buffered sink (flushed every second and at once for warnings and errors),
// so that an access-log line per request does not cost a write(2) per request.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <type_traits>
#include <variant>

namespace parley::log {

enum class Level { debug, info, warn, error };

// One key/value of a log line; values are strings, integers, floating point or booleans.
struct Field {
    using Value = std::variant<std::string_view, std::int64_t, double, bool>;

    Field(std::string_view k, std::string_view v) : key(k), value(v) {}

    Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}

    Field(std::string_view k, bool v) : key(k), value(v) {}

    Field(std::string_view k, double v) : key(k), value(v) {}

    template <class I>

    requires(std::is_integral_v<I> && !std::is_same_v<I, bool>) Field(std::string_view k, I v)
        : key(k),
          value(static_cast<std::int64_t>(v)) {}

    std::string_view key;
    Value value;
};

// Sets up the process-wide logger. Call once at start-up, before any other thread logs.
void init(Level level);

// Parses "debug", "info", "warn"/"warning", "error"; nullopt-like false on anything else.
bool parse_level(std::string_view text, Level& out) noexcept;

bool enabled(Level level) noexcept;

void write(Level level, std::string_view msg, std::span<const Field> fields);

inline void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
    write(level, msg, std::span<const Field>(fields.begin(), fields.size()));
}

inline void debug(std::string_view msg, std::initializer_list<Field> fields = {}) {
    if (enabled(Level::debug)) {
        write(Level::debug, msg, fields);
    }
}

inline void info(std::string_view msg, std::initializer_list<Field> fields = {}) {
    write(Level::info, msg, fields);
}

inline void warn(std::string_view msg, std::initializer_list<Field> fields = {}) {
    write(Level::warn, msg, fields);
}

inline void error(std::string_view msg, std::initializer_list<Field> fields = {}) {
    write(Level::error, msg, fields);
}

// Writes everything buffered. Call before exiting.
void flush();

}  // namespace parley::log
