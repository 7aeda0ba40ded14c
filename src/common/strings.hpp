// Small string helpers used across layers: trimming, case folding, splitting, UTF-8 validation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parley {

std::string_view trim(std::string_view s) noexcept;
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b) noexcept;

// Splits on `sep`, trims each part and drops empty parts.
std::vector<std::string> split_list(std::string_view s, char sep);

// The number of code points in `s`, which must be valid UTF-8 (each code point has exactly one
// byte that is not a continuation byte).
std::size_t utf8_length(std::string_view s) noexcept;

// The longest prefix of `s` of at most `max_bytes` bytes that does not end inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) noexcept;

// Whether `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

}  // namespace parley
