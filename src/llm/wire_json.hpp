// Shared pieces of the provider wire codecs (OpenAI-compatible, Anthropic, Gemini): parsing a
// provider's JSON under one depth limit, typed readers for optional fields that throw Malformed
// when a field has the wrong type, appending non-empty text and thinking deltas, and shaping the
// errors a codec returns for an unreadable response or an HTTP error response. Pure code: no I/O,
// no Asio. Only the codecs include this; Malformed never leaves them (each catches it and turns it
// into one error event or an `upstream` Error).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/error.hpp"
#include "common/json.hpp"
#include "llm/types.hpp"

namespace parley::llm::wire {

// How deeply a provider's JSON may nest; deeper input is rejected as malformed.
inline constexpr std::size_t kMaxDepth = 64;

// Thrown by the readers below when a chunk, event or response has the wrong shape; caught in the
// codecs only, where it becomes one malformed error event (callers never see an exception).
struct Malformed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Parses `text` with kMaxDepth. Throws Malformed with the parser's message when it is not JSON.
boost::json::value parse_or_throw(std::string_view text);

// The object at `key`: absent or null → nullptr; present with another type → Malformed.
const boost::json::object* object_field(const boost::json::object& o, std::string_view key);

// The array at `key`: absent or null → nullptr; present with another type → Malformed.
const boost::json::array* array_field(const boost::json::object& o, std::string_view key);

// The string at `key` (a view into `o`): absent or null → nullopt; present with another type →
// Malformed.
std::optional<std::string_view> string_field(const boost::json::object& o, std::string_view key);

// A token count: absent or null → nullopt; a non-negative integer (possibly written as a whole
// double) → its value; anything else → Malformed.
std::optional<std::int64_t> count_field(const boost::json::object& o, std::string_view key);

// Appends a text_delta with `s`, unless `s` is empty.
void push_text(std::vector<StreamEvent>& out, std::string_view s);

// Appends a thinking_delta with `s`, unless `s` is empty.
void push_thinking(std::vector<StreamEvent>& out, std::string_view s);

// The Error a codec returns for a complete response it could not read: `upstream`, with a message
// safe for the client and `malformed <api> response: <what>` as the logged detail.
Error unreadable_response(std::string_view api, const Malformed& e);

// The error event for an HTTP error response: classify_status(status), replaced by `body_kind` (the
// kind the codec read from the body) when that says more than the status (authentication,
// rate_limit, overloaded, timeout; the catch-all classes invalid_request and server only restate
// it, and OpenAI even sends `invalid_request_error` with 401). The message is `body_message`, or
// "upstream returned HTTP <status>" when that is empty; `retry_after` is passed through.
StreamEvent http_error_event(
    int status,
    std::string body_message,
    std::optional<UpstreamError> body_kind,
    std::optional<std::chrono::seconds> retry_after
);

// The error event for an HTTP error response, from its body as the codec reads it:
// `find_error(const boost::json::value&)` returns an optional error with `message` and `kind`
// (nullopt when the body says nothing usable, or is not JSON).
template <class FindError>
StreamEvent http_error_from_body(
    int status,
    std::string_view body,
    std::optional<std::chrono::seconds> retry_after,
    FindError find_error
) {
    std::string message;
    std::optional<UpstreamError> kind;
    if (auto parsed = json::parse(body, kMaxDepth)) {
        if (auto e = find_error(*parsed)) {
            message = std::move(e->message);
            kind = e->kind;
        }
    }
    return http_error_event(status, std::move(message), kind, retry_after);
}

}  // namespace parley::llm::wire
