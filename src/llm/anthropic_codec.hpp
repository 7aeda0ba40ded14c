// Wire codec for the Anthropic Messages API (`POST {base}/v1/messages`): builds the JSON request
// body (with extended thinking when asked) and turns the named SSE events (`message_start` …
// `message_stop`, `error`), complete `Message` responses and HTTP error responses into
// provider-neutral StreamEvents. Pure code: no I/O, no Asio.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "llm/types.hpp"
#include "llm/wire_json.hpp"

namespace parley::llm {

// The Messages API body: model, max_tokens, system (when non-empty), messages, stream, temperature
// (when set and thinking is off: the API requires temperature 1 with thinking) and, when
// r.thinking, `thinking: {type: "enabled", budget_tokens: max(1024, r.thinking_budget)}` with
// max_tokens raised to budget + r.max_tokens if it would not exceed the budget. Tools, when
// offered: `tools: [{name, description, input_schema}]`. An assistant message with tool calls
// becomes content blocks (`text` when it has text, then one `tool_use {id, name, input}` a call);
// "tool" messages become `tool_result {tool_use_id, content}` blocks of one user message
// (consecutive results, and a user message right after them, are merged: the API wants user and
// assistant turns to alternate). Thinking is left off while the model is inside a tool loop (its
// last assistant message made tool calls): the API would want that message's thinking block back
// with its signature, which Parley does not keep.
std::string build_anthropic_request(const ChatRequest& r, bool stream);

// Decodes one streamed response, event by event. text_delta / thinking_delta come from
// `content_block_delta`; a `tool_use` block (`content_block_start` with id and name, its
// `input_json_delta` fragments) gives one tool_call at its `content_block_stop`; `message_delta`
// gives a usage event with cumulative totals (input from `message_start` unless the delta restates
// it, output from the delta) and remembers stop_reason; `message_stop` gives the one stop. An
// `error` event, malformed JSON or an event of the wrong shape gives one error event; after it,
// and after `message_stop`, further input is ignored. `ping`, other blocks (signatures, server
// tools) and unknown events are ignored. Not thread-safe.
class AnthropicStreamDecoder {
public:
    // One SSE event (its `event:` name, possibly empty, and its data) → the StreamEvents it
    // implies, in order. The event name decides the type; without one, `data.type` does. Never
    // throws on bad input: that becomes an error event.
    std::vector<StreamEvent> decode(std::string_view event, std::string_view data) {
        std::vector<StreamEvent> out;
        decode(event, data, out);
        return out;
    }

    // The same into `out`, which it clears first (a streaming caller keeps one vector).
    void decode(std::string_view event, std::string_view data, std::vector<StreamEvent>& out);

    // The connection closed: the events the end of input implies. Nothing once done(); the stop
    // when a `message_delta` carried stop_reason but `message_stop` never came; otherwise an error
    // event (connection, "ended early").
    std::vector<StreamEvent> finish();

    // True once the stream is over: `message_stop` arrived, or an error event was emitted.
    bool done() const noexcept { return done_; }

private:
    wire::ToolCallAssembler calls_;  // open tool_use blocks, by content-block index
    Usage usage_;
    std::optional<FinishReason> finish_;
    bool done_ = false;
};

// Decodes a complete (non-streaming) `Message` body into the events a stream would have produced:
// thinking, text, tool calls (`tool_use` blocks), usage, stop. A 200 body that is an error object
// yields one error event. Errors: upstream when the body is not JSON or not the expected shape.
Result<std::vector<StreamEvent>> decode_anthropic_response(std::string_view body);

// The error event for an HTTP error response: classify_status(status), refined by `error.type`
// when it says more (`overloaded_error` → overloaded, `billing_error` → authentication, …), the
// provider's message (a generic one when the body is not Anthropic error JSON), http_status and
// retry_after.
StreamEvent decode_anthropic_error(
    int status, std::string_view body, std::optional<std::chrono::seconds> retry_after
);

}  // namespace parley::llm
