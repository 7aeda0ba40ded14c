// A Redis reply owned by Parley: hiredis frees its own reply when the callback returns, so the
// client copies it into this plain value before handing it to a coroutine on another thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace parley::redis {

struct Reply {
    enum class Type { string, array, integer, nil, status, error };

    Type type = Type::nil;
    std::string str;  // string, status ("OK") and error ("NOSCRIPT No matching script…") replies
    long long integer = 0;
    std::vector<Reply> elements;  // array replies

    bool is_error() const noexcept { return type == Type::error; }

    // Whether this is an error reply whose code (its first word) is `code`, e.g. "NOSCRIPT".
    bool is_error(std::string_view code) const noexcept {
        return is_error() && str.starts_with(code) &&
               (str.size() == code.size() || str[code.size()] == ' ');
    }
};

}  // namespace parley::redis
