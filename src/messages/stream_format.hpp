// The wire formats of a streamed answer, as pure functions of what happened (no I/O): Anthropic's
// Messages streaming events (Parley's default SSE format), OpenAI's `chat.completion.chunk`
// objects (`?format=openai`), and the seed's WebSocket JSON frames. An encoder is stateful only
// to number blocks and to close the thinking block before the text block starts.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "store/models.hpp"

namespace parley::messages {

// Known before the first delta reaches the client.
struct StreamStart {
    std::string message_id;  // the assistant message's id (stored under it at the end)
    std::string conversation_id;
    std::string user_message_id;    // the user's message (stored while the model answers)
    std::string model;              // the model asked for (a fallback stays invisible here)
    std::int64_t input_tokens = 0;  // estimated prompt tokens
    std::int64_t created_unix = 0;  // seconds since the epoch
    // The response strategy chosen for this answer (metadata.routing's JSON), when the
    // conversation routes (sessions/routing.hpp); empty otherwise.
    std::string routing;
};

// How the answer ended, once the assistant message is stored.
struct StreamEnd {
    store::Message reply;  // as stored: status complete / partial / error, tokens, cost, latency
    // Set when the answer failed after the stream started (upstream broke, timeout, shutdown):
    // an Anthropic/OpenAI-style error type ("api_error", "overloaded_error", "timeout_error", …)
    // and a message for people.
    std::optional<std::string> error_type;
    std::string error_message;
};

class StreamEncoder {
public:
    virtual ~StreamEncoder() = default;

    // The bytes (SSE) or the frame text (WebSocket) for each step; empty when the format has
    // nothing to say for it. Called in order: start, then thinking/text deltas (thinking first
    // when there is any), then finish once; ping at any time after start.
    virtual std::string start(const StreamStart& s) = 0;
    virtual std::string thinking(std::string_view delta) = 0;
    virtual std::string text(std::string_view delta) = 0;
    virtual std::string finish(const StreamEnd& end) = 0;
    virtual std::string ping() = 0;

    // A tool call the model made (arguments: a JSON object's text), and the result of running it
    // (a JSON document's text). Formats without a way to show them say nothing (the default).
    virtual std::string tool_call(
        std::string_view /*id*/, std::string_view /*name*/, std::string_view /*arguments*/
    ) {
        return {};
    }

    virtual std::string tool_result(
        std::string_view /*id*/, std::string_view /*name*/, std::string_view /*result*/, bool /*ok*/
    ) {
        return {};
    }

    // Gives back a string this encoder returned, once its bytes were written, for a later delta
    // to be encoded into (issue 14: an allocation a delta fewer). Encoders that keep none drop it.
    virtual void recycle(std::string&& /*used*/) {}

    // The Content-Type of the stream ("text/event-stream; charset=utf-8"); empty for WebSocket.
    virtual std::string_view content_type() const noexcept = 0;
};

// Anthropic Messages streaming: every event has an `event:` line and a matching `data.type`.
// message_start → (thinking block: content_block_start{thinking:"",signature:""},
// thinking_delta…, content_block_stop) → text block (content_block_start{text:""},
// text_delta…, content_block_stop) → message_delta{stop_reason, usage.output_tokens} →
// message_stop. A failure after start: `event: error` with {"type":"error","error":{type,
// message}} and nothing after it. Parley's data rides as a `parley` key in message_start's
// message, in message_delta and in error: {message_id, conversation_id, user_message_id,
// status, model, provider, cost_usd, latency_ms, ttft_ms, input_tokens, output_tokens}.
std::unique_ptr<StreamEncoder> make_anthropic_encoder();

// OpenAI chat.completion.chunk: `data:` lines only; the same id ("chatcmpl-<message id>") and
// `created` on every chunk; a role chunk first ({"role":"assistant","content":""}), content
// deltas (thinking as `delta.reasoning`), a chunk with finish_reason, a usage chunk with
// `choices: []` (and the `parley` key), then `data: [DONE]`. A failure after start:
// `data: {"error":{message,type,code}}` and no [DONE]. ping is an SSE comment. Without
// `usage_chunk` (OpenAI's default when stream_options.include_usage is not set) the usage chunk
// is left out.
std::unique_ptr<StreamEncoder> make_openai_encoder(bool usage_chunk = true);

// The same chunks as NDJSON (seed 003's `stream_format=openai`, application/x-ndjson): one JSON
// object per line, no [DONE]; the finish chunk carries finish_reason, `usage` and `parley` (no
// separate usage chunk: every line has choices[0]). A failure: a line {"error": {…}, "parley"}.
std::unique_ptr<StreamEncoder> make_openai_ndjson_encoder();

// Plain text (seed 003's `stream_format=text`, text/plain; charset=utf-8): the answer's text
// deltas and nothing else; thinking is left out; a failure ends the text where it stopped.
std::unique_ptr<StreamEncoder> make_text_encoder();

// The seed's WebSocket frames: {"type":"token","content":…}, {"type":"thinking","content":…},
// {"type":"done", …the stored message's fields (message_json)}, {"type":"error","content":…,
// "message": …the stored partial/error message when there is one}. start and ping are empty
// (WebSocket has its own ping).
std::unique_ptr<StreamEncoder> make_websocket_encoder();

// Anthropic's stop_reason for a stored finish_reason ("stop" → "end_turn", "length" →
// "max_tokens", "tool_use" → "tool_use", "content_filter" → "refusal"; anything else → "end_turn").
std::string_view anthropic_stop_reason(std::string_view finish_reason) noexcept;

// OpenAI's finish_reason for a stored finish_reason ("stop", "length", "tool_use" → "tool_calls",
// "content_filter"; anything else → "stop").
std::string_view openai_finish_reason(std::string_view finish_reason) noexcept;

}  // namespace parley::messages
