// Model routing (ARCHITECTURE §7): which provider serves a model, the fallback chain
// (the requested or default model, then FALLBACK_MODEL), retries with exponential backoff and
// jitter that honour Retry-After, and the timeouts a provider cannot enforce on itself: first
// token, between tokens, total. Fallback happens only while nothing has reached the caller.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "llm/catalog.hpp"
#include "llm/provider.hpp"

namespace parley::llm {

struct RouterOptions {
    std::string default_model;   // used when a request names none
    std::string fallback_model;  // tried after the requested model fails; empty for none
    std::chrono::milliseconds first_token_timeout{30'000};
    std::chrono::milliseconds between_tokens_timeout{30'000};
    std::chrono::milliseconds total_timeout{300'000};
    int max_retries = 2;                          // per model, for 429, 5xx and connection errors
    std::chrono::milliseconds backoff_base{200};  // doubled each retry, with full jitter
    std::chrono::milliseconds backoff_max{4'000};
    std::chrono::milliseconds max_retry_after{10'000};  // a longer Retry-After falls back instead
};

// Which provider and model answered.
struct RouteResult {
    std::string provider;
    std::string model;
    bool fallback_used = false;
    int attempts = 0;
    bool ok = false;  // false: the sink got an error event
};

class ModelRouter {
public:
    // `providers` maps a provider name ("groq", …) to its implementation; a provider without an
    // entry is not configured (its models are unavailable). `key_variables` names the setting that
    // configures each provider, for error messages ("groq" → "GROQ_API_KEY").
    ModelRouter(
        const Catalog& catalog,
        std::map<std::string, std::unique_ptr<Provider>, std::less<>> providers,
        std::map<std::string, std::string, std::less<>> key_variables,
        RouterOptions options
    );

    const Catalog& catalog() const noexcept { return catalog_; }

    const RouterOptions& options() const noexcept { return options_; }

    bool available(const ModelInfo& model) const noexcept;

    // The model a request asks for (empty: the default). Errors: unprocessable naming the model
    // when it is unknown, or naming the variable to set when its provider is not configured.
    Result<const ModelInfo*> resolve(std::string_view model_id) const;

    // Streams an answer to `request` from `model` (already resolved), falling back along the chain
    // while nothing has been forwarded. The sink gets thinking and text deltas, usage, then one
    // stop or one error event (after every model failed: overloaded; after a failure mid-answer:
    // the upstream's error). Cancelling the awaiting coroutine cancels the provider's request.
    // `request` is the caller's, which awaits at once, and is handed to each attempt without a
    // copy (a copy a send would cost a context of hundreds of messages, held for the answer's
    // length; issue 14): its `model` and `thinking` are set for each attempt and put back as
    // they came when this returns.
    boost::asio::awaitable<RouteResult> stream(
        const ModelInfo& model, ChatRequest& request, EventSink sink
    );

private:
    struct Attempt;
    boost::asio::awaitable<void> attempt(
        Provider& provider, const ChatRequest& request, Attempt& state
    );

    const Catalog& catalog_;
    std::map<std::string, std::unique_ptr<Provider>, std::less<>> providers_;
    std::map<std::string, std::string, std::less<>> key_variables_;
    RouterOptions options_;
};

}  // namespace parley::llm
