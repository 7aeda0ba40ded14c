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

// Whether `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

}  // namespace parley
