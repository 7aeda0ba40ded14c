// The stored and sent form of a time ("2026-11-25T12:00:00.000Z", to_iso8601) written into a
// caller's buffer, for writers that append it somewhere without a std::string in between (issue
// 14: json::Writer writes two or three of them for every row of a list).
#pragma once

#include <cstddef>

#include "common/time.hpp"

namespace parley {

constexpr std::size_t kIso8601Size = 24;

// Writes `t` as to_iso8601 does into `out` and returns true; for a year outside 0–9999 writes
// nothing and returns false (to_iso8601 then gives the wider form).
bool write_iso8601(TimePoint t, char (&out)[kIso8601Size]) noexcept;

}  // namespace parley
