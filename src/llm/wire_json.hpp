// Shared pieces of the provider wire codecs (OpenAI-compatible, Anthropic, Gemini): parsing a
// provider's JSON under one depth limit, typed readers for optional fields that throw Malformed
// when a field has the wrong type, appending non-empty text and thinking deltas, shaping the
// errors a codec returns for an unreadable response or an HTTP error response, and tool calling:
// assembling streamed calls, validating their arguments, and the JSON values (schemas, arguments,
// results) each provider's request needs. Pure code: no I/O, no Asio. Only the codecs (and their
// headers, for ToolCallAssembler) include this; Malformed never leaves them (each catches it and
// turns it into one error event or an `upstream` Error).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
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

// --- tool calling
// ---------------------------------------------------------------------------------

// A complete call from the model's raw arguments: "{}" when they are empty or blank; the compact
// serialization when they are a JSON object; otherwise "{}" with `invalid_arguments` saying why
// ("arguments are not valid JSON: …", "arguments are not a JSON object").
ToolCall complete_tool_call(std::string id, std::string name, std::string_view arguments);

// The id given to a call the provider sent without one (Gemini): "call_<n>", n counted from 1 in
// each response, so the same stream always gives the same ids.
std::string generated_call_id(std::size_t n);

// Collects tool calls that arrive in pieces (OpenAI `delta.tool_calls` by `index`, Anthropic
// `tool_use` blocks by content-block `index`) and completes them in key order. Not thread-safe.
class ToolCallAssembler {
public:
    // Opens the call under `key`, or fills in the id and name a later piece carries (an empty
    // `id` or `name` keeps what is there).
    void start(std::int64_t key, std::string_view id, std::string_view name);

    // Appends a fragment of the arguments to the call under `key` (opened if it is not yet).
    void append(std::int64_t key, std::string_view fragment);

    // The call under `key`, completed (complete_tool_call) and forgotten; nullopt when none is
    // open.
    std::optional<ToolCall> complete(std::int64_t key);

    // Every open call, completed in key order, and forgotten.
    std::vector<ToolCall> complete_all();

    bool empty() const noexcept { return open_.empty(); }

    bool is_open(std::int64_t key) const { return open_.contains(key); }

    // The key of the call a piece went to last, while that call is still open; else nullopt.
    std::optional<std::int64_t> last_key() const noexcept;

    // The key of the open call with this id; nullopt when there is none.
    std::optional<std::int64_t> find_id(std::string_view id) const;

    // A key no open call uses: one past the largest open key, or 0.
    std::int64_t next_key() const noexcept;

    // How many calls have been completed so far (numbers generated ids).
    std::size_t completed() const noexcept { return completed_; }

private:
    struct Open {
        std::string id;
        std::string name;
        std::string arguments;
    };

    ToolCall finish(Open open);

    std::map<std::int64_t, Open> open_;
    std::optional<std::int64_t> last_key_;
    std::size_t completed_ = 0;
};

// Appends a tool_call event for each of `calls`, in order.
void push_tool_calls(std::vector<StreamEvent>& out, std::vector<ToolCall> calls);

// A tool's JSON Schema text as a JSON value: the parsed object, or `{"type":"object",
// "properties":{}}` when the text is empty or not a JSON object (a registry bug must not cost the
// whole request).
boost::json::object schema_object(std::string_view parameters);

// A call's arguments as a JSON object, for the providers that want an object rather than text
// (Anthropic `input`, Gemini `args`): the parsed object, or `{}` when they are not one.
boost::json::object arguments_object(std::string_view arguments);

// A tool result as a JSON object (Gemini `functionResponse.response`): the parsed content when it
// is a JSON object, otherwise `{"result": content}`.
boost::json::object tool_result_object(std::string_view content);

}  // namespace parley::llm::wire
