// Wall-clock time as Parley stores and sends it: UTC, ISO 8601 with milliseconds and a `Z`
// ("2026-11-25T12:00:00.000Z"), which also sorts correctly as text.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace parley {

using TimePoint = std::chrono::system_clock::time_point;

// Where services get the time from; tests pass a fake.
using Clock = std::function<TimePoint()>;

inline TimePoint system_now() {
    return std::chrono::system_clock::now();
}

std::string to_iso8601(TimePoint t);

// Parses "YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)" for years 1970 to 2200; nullopt on anything else.
std::optional<TimePoint> parse_iso8601(std::string_view text);

inline std::int64_t to_unix_seconds(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace parley
