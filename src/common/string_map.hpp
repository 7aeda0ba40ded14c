// A map keyed by std::string that a std::string_view finds without building a string
// (heterogeneous lookup): for maps looked up by text the caller holds as a view (cached
// statements by SQL, rate-limit keys, verified tokens, the message tree's ids).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley {

struct StringHash {
    using is_transparent = void;  // NOLINT(readability-identifier-naming): the standard's name

    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

template <class Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

}  // namespace parley
