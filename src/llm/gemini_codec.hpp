// Wire codec for Google Gemini (`models/{model}:streamGenerateContent?alt=sse` and
// `:generateContent`): builds the JSON request body (roles "user"/"model", systemInstruction,
// generationConfig with thinkingConfig) and turns `GenerateContentResponse` chunks, complete
// responses and HTTP error responses into provider-neutral StreamEvents. Pure code: no I/O, no
// Asio.
//
// Gemini's SSE stream has no `event:` names and no end sentinel: the chunk carrying
// `candidates[0].finishReason` is taken as the last one. Caution (wire-formats §3.2): old models
// (gemini-pro 1.0, early 1.5) put `finishReason: "STOP"` on every chunk; with them this decoder
// stops after the first chunk and drops the rest.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "llm/types.hpp"

namespace parley::llm {

// The generateContent body: contents (assistant turns as role "model"), systemInstruction (when
// the system prompt is non-empty), generationConfig {maxOutputTokens, temperature when set,
// thinkingConfig {includeThoughts: true, thinkingBudget} when r.thinking}. The model goes in the
// URL, not the body. Tools, when offered: `tools: [{functionDeclarations: [{name, description,
// parameters}]}]`, each schema cut down to the OpenAPI subset Gemini accepts (it answers 400 to
// `$schema`, `additionalProperties`, `const`, …; `type: [T, "null"]` becomes `type: T, nullable`;
// an object schema without properties is left out, as Gemini wants). An assistant message with
// tool calls becomes model parts `functionCall {name, args}` (with the call's `thoughtSignature`
// when it has one); consecutive "tool" messages become one user turn of `functionResponse {name,
// response}` parts, `response` being the result's JSON object, or `{"result": text}`.
std::string build_gemini_request(const ChatRequest& r, bool stream);

// Decodes one streamed response, chunk by chunk. Text parts become text_delta, `thought: true`
// parts thinking_delta, `functionCall` parts (whole, never in pieces) one tool_call each at once
// (id: the call's own, else "call_<n>"; the part's thoughtSignature kept as the call's
// signature); on the chunk with finishReason (or a prompt blocked by promptFeedback) it emits a
// usage event from the latest usageMetadata (output = candidates + thoughts tokens) and then the
// one stop (tool_use for a STOP after a function call). A chunk with `error`, malformed JSON or a
// chunk of the wrong shape gives one error event; after it, and after the stop, further input is
// ignored. Not thread-safe.
class GeminiStreamDecoder {
public:
    // One SSE event (its `event:` name, possibly empty, and its data) → the StreamEvents it
    // implies, in order. Never throws on bad input: that becomes an error event.
    std::vector<StreamEvent> decode(std::string_view event, std::string_view data) {
        std::vector<StreamEvent> out;
        decode(event, data, out);
        return out;
    }

    // The same into `out`, which it clears first (a streaming caller keeps one vector).
    void decode(std::string_view event, std::string_view data, std::vector<StreamEvent>& out);

    // The connection closed: the events the end of input implies. Nothing once done(); otherwise
    // an error event (connection, "ended early"), since every complete response ends with a
    // finishReason.
    std::vector<StreamEvent> finish();

    // True once the stream is over: a chunk carried finishReason, or an error event was emitted.
    bool done() const noexcept { return done_; }

private:
    std::optional<Usage> usage_;  // from the latest chunk with usageMetadata
    std::size_t calls_ = 0;       // functionCall parts so far: numbers ids; a STOP means tool_use
    bool done_ = false;
};

// Decodes a complete (non-streaming) `GenerateContentResponse` body into the events a stream
// would have produced: thinking, text, tool calls, usage, stop (stop when finishReason is
// missing, tool_use after a function call). A body
// with an `error` object yields one error event. Errors: upstream when the body is not JSON or
// not the expected shape.
Result<std::vector<StreamEvent>> decode_gemini_response(std::string_view body);

// The error event for an HTTP error response: classify_status(status), refined by `error.status`
// when it says more (`RESOURCE_EXHAUSTED` → rate_limit, `UNAVAILABLE` → overloaded, a 400 with
// reason `API_KEY_INVALID` → authentication, …), the provider's message (a generic one when the
// body is not Google error JSON), http_status and retry_after.
StreamEvent decode_gemini_error(
    int status, std::string_view body, std::optional<std::chrono::seconds> retry_after
);

}  // namespace parley::llm
