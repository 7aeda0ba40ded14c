// The provider-neutral vocabulary of the LLM layer: what Parley asks a model (ChatRequest), what
// comes back while it answers (StreamEvent), and how upstream failures are classified. Plain data
// (a message's text may be shared with the object that keeps it: MessageText): no I/O, no Asio,
// no JSON.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::llm {

// A tool the model may call.
struct ToolSpec {
    std::string name;         // [a-zA-Z0-9_-]{1,64}, as every provider accepts
    std::string description;  // what it does, for the model
    std::string parameters;   // JSON Schema of the arguments: a serialized JSON object
};

// One call the model made. Codecs emit it once it is complete (arguments assembled from deltas).
struct ToolCall {
    std::string id;  // the provider's ("call_…", "toolu_…"); generated when it has none (Gemini)
    std::string name;
    std::string arguments;  // a serialized JSON object ("{}" when the model sent none)
    // Set when the model's arguments were not a JSON object (then `arguments` is "{}"): the turn
    // gives the model this as the tool's error result instead of running the tool.
    std::optional<std::string> invalid_arguments;
    // Opaque provider state to send back with the call in later requests: Gemini's
    // `thoughtSignature` (Gemini 3 rejects a replayed call without it). Empty for most providers.
    std::string signature{};
};

// A message's text in a request: a string of its own, or a view of one that another object keeps
// (a stored row's content, shared rather than copied: a turn keeps its request for the whole
// answer, and copies of the context's texts were most of a held stream's memory in a long
// conversation; issue 14). Reads as a string_view; appending makes it its own.
class MessageText {
public:
    MessageText() = default;

    // NOLINTNEXTLINE(google-explicit-constructor): a text is given as a string everywhere
    MessageText(std::string text) noexcept : own_(std::move(text)) {}

    // NOLINTNEXTLINE(google-explicit-constructor): as the string's, for literals
    MessageText(const char* text) : own_(text) {}

    // `text` must stay as it is while `owner` (which must keep it) lives; with no owner, a copy.
    MessageText(std::shared_ptr<const void> owner, std::string_view text)
        : owner_(std::move(owner)),
          shared_(text) {
        if (!owner_) {
            own_.assign(text);
            shared_ = {};
        }
    }

    std::string_view view() const noexcept { return owner_ ? shared_ : std::string_view(own_); }

    // NOLINTNEXTLINE(google-explicit-constructor): read as a string_view, as a string was
    operator std::string_view() const noexcept { return view(); }

    bool empty() const noexcept { return view().empty(); }

    std::size_t size() const noexcept { return view().size(); }

    std::string str() const { return std::string(view()); }

    // Appends `more` (which may be a view of this text or of its owner), making the text its own.
    MessageText& operator+=(std::string_view more) {
        if (owner_) {
            std::string joined;
            joined.reserve(shared_.size() + more.size());
            joined.append(shared_).append(more);
            own_ = std::move(joined);
            owner_.reset();  // only now: `more` may have been in what it kept
            shared_ = {};
        } else {
            own_.append(more);
        }
        return *this;
    }

    friend bool operator==(const MessageText& a, std::string_view b) noexcept {
        return a.view() == b;
    }

    friend std::ostream& operator<<(std::ostream& out, const MessageText& text);

private:
    std::string own_;
    std::shared_ptr<const void> owner_;  // set: the text is shared_, in what owner_ keeps
    std::string_view shared_;
};

struct ChatMessage {
    std::string role;  // "user", "assistant" or "tool" (the system prompt travels separately)
    MessageText content;
    std::vector<ToolCall> tool_calls{};  // assistant: the calls it made (content may be empty)
    std::string tool_call_id{};          // tool: the call this message answers
    std::string tool_name{};  // tool: that call's tool (Gemini's functionResponse needs it)
    bool tool_error = false;  // tool: the result is an error (Anthropic's is_error)
};

struct ChatRequest {
    std::string model;   // the provider's own model id, e.g. "llama-3.1-8b-instant"
    std::string system;  // system prompt; empty for none
    std::vector<ChatMessage> messages;
    std::vector<ToolSpec> tools;  // offered to the model; empty: no tool calling
    int max_tokens = 1024;
    std::optional<double> temperature;
    std::vector<std::string> stop;  // sequences that end the answer where they appear; at most 4
    bool thinking = false;          // ask for visible reasoning where the model supports it
    int thinking_budget =
        1024;  // tokens of reasoning allowed (Anthropic ≥ 1024, Gemini thinkingBudget)
};

// Why a model stopped, normalised across providers.
enum class FinishReason {
    stop,      // natural end (OpenAI "stop", Anthropic "end_turn"/"stop_sequence", Gemini "STOP")
    length,    // max tokens (OpenAI "length", Anthropic "max_tokens", Gemini "MAX_TOKENS")
    tool_use,  // OpenAI "tool_calls", Anthropic "tool_use"
    content_filter,  // OpenAI "content_filter", Anthropic "refusal", Gemini "SAFETY"/"RECITATION"/…
    error,           // the stream broke
    cancelled,       // the caller went away
};

std::string_view finish_reason_name(FinishReason r) noexcept;  // "stop", "length", …

struct Usage {
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
};

// How an upstream failure is classified; decides retry and fallback.
enum class UpstreamError {
    invalid_request,  // 400/404/422: our request is wrong; neither retried nor fallen back from
    authentication,   // 401/403: the key is wrong; falls back, not retried
    rate_limit,       // 429: retried after Retry-After, then falls back
    overloaded,       // 503/529 or an overloaded error event: retried, then falls back
    server,           // other 5xx: retried, then falls back
    timeout,          // connect / first-token / between-token / total timeout
    connection,       // could not connect, or the connection broke
    malformed,        // the provider sent something we cannot parse
};

std::string_view upstream_error_name(UpstreamError e) noexcept;

struct StreamEvent {
    enum class Kind { thinking_delta, text_delta, tool_call, usage, stop, error };

    Kind kind = Kind::text_delta;
    std::string text;  // thinking_delta, text_delta; error: message
    Usage usage;       // usage (cumulative totals as the provider reports them)
    FinishReason finish = FinishReason::stop;         // stop
    UpstreamError error = UpstreamError::server;      // error
    int http_status = 0;                              // error: the upstream status, 0 when none
    std::optional<std::chrono::seconds> retry_after;  // error: the upstream's Retry-After
    ToolCall tool_call;                               // tool_call (complete)

    static StreamEvent text_delta(std::string t) {
        return with_text(Kind::text_delta, std::move(t));
    }

    static StreamEvent thinking_delta(std::string t) {
        return with_text(Kind::thinking_delta, std::move(t));
    }

    static StreamEvent tool_call_event(ToolCall call) {
        StreamEvent e;
        e.kind = Kind::tool_call;
        e.tool_call = std::move(call);
        return e;
    }

    static StreamEvent usage_event(Usage u) {
        StreamEvent e;
        e.kind = Kind::usage;
        e.usage = u;
        return e;
    }

    static StreamEvent stop(FinishReason r) {
        StreamEvent e;
        e.kind = Kind::stop;
        e.finish = r;
        return e;
    }

    static StreamEvent failure(UpstreamError type, std::string message, int status = 0) {
        StreamEvent e = with_text(Kind::error, std::move(message));
        e.error = type;
        e.http_status = status;
        return e;
    }

private:
    static StreamEvent with_text(Kind kind, std::string t) {
        StreamEvent e;
        e.kind = kind;
        e.text = std::move(t);
        return e;
    }
};

// Classifies an upstream HTTP status.
UpstreamError classify_status(int status) noexcept;

}  // namespace parley::llm
