// Wire codec for OpenAI-compatible Chat Completions servers (OpenAI, Groq, vLLM, Ollama, the
// llama.cpp server): builds the JSON request body and turns `chat.completion.chunk` SSE events,
// complete responses and HTTP error responses into provider-neutral StreamEvents. Pure code: no
// I/O, no Asio.
//
// Thinking: these servers share no portable switch for visible reasoning, so the request asks for
// none. When a model reasons anyway it arrives either inside a leading `<think>…</think>` in
// `content` (DeepSeek-R1 style models, Groq `reasoning_format: "raw"`, Ollama, vLLM without a
// reasoning parser) or in a `reasoning` / `reasoning_content` field of the delta or message (Groq
// "parsed", vLLM and DeepSeek reasoning parsers); both become thinking_delta.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "llm/openai_chunk_scan.hpp"
#include "llm/types.hpp"
#include "llm/wire_json.hpp"

namespace parley::llm {

// The `POST {base}/chat/completions` body: model, messages (the system prompt first, as a "system"
// message, when non-empty), max_tokens, temperature when set, stream, and when streaming
// `stream_options: {include_usage: true}` so the usage chunk arrives before `[DONE]`. Tools, when
// offered: `tools: [{type: "function", function: {name, description, parameters}}]`. An assistant
// message with tool calls carries `tool_calls: [{id, type: "function", function: {name,
// arguments}}]` and `content: null` when it has no text; a "tool" message becomes `{role: "tool",
// tool_call_id, content}`.
std::string build_openai_request(const ChatRequest& r, bool stream);

// Decodes one streamed response, event by event. Emits thinking_delta / text_delta as fragments
// arrive, a usage event when a chunk reports usage (`usage`, or Groq's `x_groq.usage`), and one
// stop at `[DONE]` (so it follows the usage chunk) with the remembered finish_reason, or stop when
// none came. Tool calls (`delta.tool_calls`, pieces keyed by `index`, several in parallel) are
// assembled and emitted once each, in index order, when the choice's finish_reason arrives (or at
// the end of the stream, if it never does); a finish_reason "stop" after tool calls is tool_use.
// An `error` object in a chunk, malformed JSON or a chunk of the wrong shape gives one error
// event; after it, and after `[DONE]`, further input is ignored. Not thread-safe.
class OpenAiStreamDecoder {
public:
    // Whether decode() first scans a chunk for the plain text shape (llm/openai_chunk_scan.hpp)
    // and parses it in full only when it is not; off parses every chunk in full. The events are
    // the same either way (the tests and the fuzz target compare the two); the scan is cheaper.
    enum class ChunkScan { on, off };

    explicit OpenAiStreamDecoder(ChunkScan scan = ChunkScan::on) : scan_(scan) {}

    // One SSE event (its `event:` name, possibly empty, and its data) → the StreamEvents it
    // implies, in order. Never throws on bad input: that becomes an error event.
    std::vector<StreamEvent> decode(std::string_view event, std::string_view data) {
        std::vector<StreamEvent> out;
        decode(event, data, out);
        return out;
    }

    // The same into `out`, which it clears first (a streaming caller keeps one vector).
    void decode(std::string_view event, std::string_view data, std::vector<StreamEvent>& out);

    // The connection closed: the events the end of input implies. Nothing once done(); the pending
    // stop when a finish_reason came but `[DONE]` did not (some compatible servers omit it);
    // otherwise an error event (connection, "ended early").
    std::vector<StreamEvent> finish();

    // True once the stream is over: `[DONE]` arrived, or an error event was emitted.
    bool done() const noexcept { return done_; }

private:
    enum class ThinkState { start, inside, after, text };

    void on_content(std::string_view fragment, std::vector<StreamEvent>& out);
    void flush_pending(std::vector<StreamEvent>& out);
    void on_tool_call(const boost::json::value& piece);
    void flush_calls(std::vector<StreamEvent>& out);
    FinishReason final_reason() const noexcept;
    void fail(std::vector<StreamEvent>& out, StreamEvent failure);

    ChunkScan scan_;
    PlainChunkScanner scanner_;
    std::string content_;  // the scanned chunk's content; kept to reuse its capacity
    ThinkState think_ = ThinkState::start;
    std::string pending_;  // content held back: it may be the start of `<think>` or `</think>`
    wire::ToolCallAssembler calls_;  // tool calls still arriving, by `index`
    std::optional<FinishReason> finish_;
    bool done_ = false;
};

// Decodes a complete (non-streaming) `chat.completion` body into the events a stream would have
// produced: thinking, text, tool calls (`message.tool_calls`), usage, stop. A 200 body carrying an
// `error` object yields one error event. Errors: upstream when the body is not JSON or not the
// expected shape.
Result<std::vector<StreamEvent>> decode_openai_response(std::string_view body);

// The error event for an HTTP error response: classify_status(status), refined by the body's
// `error.code` / `error.type` when they say more (e.g. `invalid_api_key` → authentication), the
// provider's message (a generic one when the body is not OpenAI error JSON), http_status and
// retry_after.
StreamEvent decode_openai_error(
    int status, std::string_view body, std::optional<std::chrono::seconds> retry_after
);

}  // namespace parley::llm
