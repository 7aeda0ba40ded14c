// A JSON writer that appends straight to a std::string, with no tree in between: what the large
// responses (a page of conversations, a conversation with its messages) are written with (issue
// 14: building a Boost.JSON tree and serialising it was a third of such a request). Its output is
// byte for byte what boost::json::serialize gives for the same values: the same string escapes
// (\b \t \n \f \r, other control characters as lower-case \u00XX, every other byte as it is,
// invalid UTF-8 included) and the same number formats (doubles as Boost.JSON prints them, "0E0").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/fwd.hpp>

#include "common/time.hpp"

namespace parley::json {

class Writer {
public:
    // Appends to `out`, which must outlive the writer.
    explicit Writer(std::string& out) noexcept : out_(out) {}

    Writer& begin_object();
    Writer& end_object();
    Writer& begin_array();
    Writer& end_array();
    // An object member's name; the member's value is what is written next.
    Writer& key(std::string_view name);

    Writer& string(std::string_view s);
    Writer& string_or_null(const std::optional<std::string>& s);
    Writer& integer(std::int64_t i);
    Writer& integer_or_null(const std::optional<std::int64_t>& i);
    Writer& number(double d);
    Writer& boolean(bool b);
    // A time as the API shows it (to_iso8601), without a std::string in between.
    Writer& timestamp(TimePoint t);
    Writer& null();
    // Any Boost.JSON value, serialised as boost::json::serialize does.
    Writer& value(const boost::json::value& v);

private:
    void separate();

    std::string& out_;
    bool comma_ = false;  // a value was written at this level: the next one needs a comma
};

// Appends `s` to `out` as a quoted JSON string, escaped exactly as boost::json::serialize does.
void append_quoted(std::string& out, std::string_view s);

}  // namespace parley::json
