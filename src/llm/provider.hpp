// The Provider interface (ARCHITECTURE §7): one implementation per wire format (OpenAI-compatible,
// Gemini, Anthropic) plus the built-in mock. A provider turns a ChatRequest into a stream of
// StreamEvents; fallback, retries and timeouts live above it, in llm/router.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "llm/types.hpp"

namespace parley::net {
class HttpClient;
}

namespace parley::llm {

// Receives a provider's events in order, called on the provider's executor. It must not wait:
// the consumers take the event (a turn queues it for its relay) and return. A plain call, not a
// coroutine: an awaitable sink cost a coroutine frame at each level (the router's, the turn's)
// for every delta (issue 14). What a cancelled provider still sends (its broken request) the
// router drops: it is not an event of the answer.
using EventSink = std::function<void(StreamEvent&&)>;

class Provider {
public:
    virtual ~Provider() = default;

    // "groq", "openai", "google", "anthropic", "mock", …: the `provider` field of models and
    // messages.
    virtual std::string_view name() const noexcept = 0;

    // Streams the answer into `sink`: thinking and text deltas, usage, then exactly one stop or
    // one error event (upstream failures never throw). Cancelling the awaiting coroutine aborts
    // the upstream request at once (its connection is closed). Runs on the caller's executor.
    // `request` is the caller's, who awaits at once, so it outlives the call: not copied (a send's
    // context is hundreds of messages; issue 14).
    virtual boost::asio::awaitable<void> stream(const ChatRequest& request, EventSink sink) = 0;

    // The whole answer at once, as the events a stream would have produced, through the
    // provider's non-streaming endpoint. Same failure and cancellation rules as stream().
    virtual boost::asio::awaitable<std::vector<StreamEvent>> complete(ChatRequest request) = 0;
};

// Where and how to reach an HTTP provider.
struct ProviderEndpoint {
    std::string name;      // the provider's name, e.g. "groq"
    std::string base_url;  // e.g. https://api.groq.com/openai/v1, https://api.anthropic.com
    std::string api_key;   // may be empty for local OpenAI-compatible servers
};

// OpenAI Chat Completions: POST {base}/chat/completions, Authorization: Bearer.
std::unique_ptr<Provider> make_openai_provider(ProviderEndpoint endpoint, net::HttpClient& client);

// Anthropic Messages: POST {base}/v1/messages, x-api-key, anthropic-version: 2023-06-01.
std::unique_ptr<Provider> make_anthropic_provider(
    ProviderEndpoint endpoint, net::HttpClient& client
);

// Gemini: POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse (and :generateContent),
// x-goog-api-key.
std::unique_ptr<Provider> make_gemini_provider(ProviderEndpoint endpoint, net::HttpClient& client);

struct MockOptions {
    std::chrono::milliseconds token_delay{15};  // between tokens
};

// No network: a deterministic reply derived from the prompt, streamed word by word, with
// thinking when asked; usage counted with llm::estimate_tokens. It uses tools: when the request
// offers `fetch_internal_knowledge` and the last message reads like "What is X?" / "What are X?" /
// "Tell me about X" / "Look up X" / "Explain X", it calls it with {"topic": X} (X lower-cased;
// id "call_mock_<n>", n counting the conversation's calls) and stops with tool_use; when the last
// message is a tool result, it answers from it ("According to the knowledge base: …").
std::unique_ptr<Provider> make_mock_provider(MockOptions options = {});

// A rough token count for text a provider did not count (about four characters a token for
// English, and at least one token per word); the provider's own usage always wins.
std::int64_t estimate_tokens(std::string_view text) noexcept;

}  // namespace parley::llm
