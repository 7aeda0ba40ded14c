// JSON helpers on Boost.JSON: bounded parsing (nesting depth, optionally refusing duplicate keys),
// typed field access that turns a wrong or missing field into a client-facing Error naming the
// field, and the check that a request object has no field beyond those a route reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/error.hpp"
#include "common/time.hpp"

namespace parley::json {

// What parse() does with a key repeated within one object.
enum class DuplicateKeys {
    keep_last,  // Boost.JSON's rule, the last one wins: documents Parley reads from others
    refuse,     // an error (I-JSON, RFC 7493): two parsers that pick different duplicates are a
                // classic way past a check, so client requests must not have any
};

// Parses `text` as one JSON value, nesting at most `max_depth` deep; with keep_last, the value
// is made in `sp` (e.g. a scratch buffer for a value that is read and dropped at once).
// Errors: invalid_request ("malformed JSON …", "JSON nested deeper than N levels", and with
// DuplicateKeys::refuse "duplicate key `k` in a JSON object", at any depth).
Result<boost::json::value> parse(
    std::string_view text,
    std::size_t max_depth,
    DuplicateKeys duplicates = DuplicateKeys::keep_last,
    const boost::json::storage_ptr& sp = {}
);

// Field readers: absent → nullopt; present with the wrong type → unprocessable naming the field.
Result<std::optional<std::string>> optional_string(
    const boost::json::object& o, std::string_view key
);
Result<std::optional<bool>> optional_bool(const boost::json::object& o, std::string_view key);
Result<std::optional<std::int64_t>> optional_int(
    const boost::json::object& o, std::string_view key
);
Result<std::optional<double>> optional_number(const boost::json::object& o, std::string_view key);

// Required string field: absent → unprocessable "`key` is required".
Result<std::string> required_string(const boost::json::object& o, std::string_view key);

// Refuses a field of `o` that is not in `allowed`: unprocessable naming the first such field (in
// the document's order) and the fields that are allowed. Request bodies are strict, so a typo
// (`max_token`) or a field the route does not take is an error rather than silently ignored.
Result<void> reject_unknown_fields(
    const boost::json::object& o, std::initializer_list<std::string_view> allowed
);

// An optional time as the API shows it: ISO 8601 (to_iso8601), or null when absent.
boost::json::value time_or_null(const std::optional<TimePoint>& t);

// An optional amount of micro-dollars as the API shows money: US dollars (a number), or null.
boost::json::value usd_or_null(const std::optional<std::int64_t>& micros);

// Appends `s` to `out` as the body of a JSON string (no quotes), escaping as RFC 8259 requires.
void escape_into(std::string& out, std::string_view s);

}  // namespace parley::json
