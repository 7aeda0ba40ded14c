// A stateless model call (the OpenAI- and Anthropic-compatible endpoints): one request through the
// router (fallback, retries, timeouts, cooldowns), no conversation and nothing stored. Its events
// come as a Turn, so the stream routes' relay and encoders serve it exactly as they serve a
// conversation's answer. Tool calls are handed to the caller, never run (the client runs them).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "llm/router.hpp"
#include "messages/service.hpp"

namespace parley::messages {

struct CallRequest {
    const llm::ModelInfo* model = nullptr;  // resolved (ModelRouter::resolve)
    llm::ChatRequest request;               // `model` is filled in from `model`
    std::string id;                         // the answer's id, as the encoders show it
    std::int64_t created_unix = 0;
};

// Called once the call has ended, before the turn's `end` event: the answer's account (`model`
// and `provider` that answered, tokens, cost, finish_reason, status). Where the caller records
// the spend. Runs on the call's executor; not cancelled when the reader leaves.
using CallEnded = std::function<boost::asio::awaitable<void>(store::Message)>;

// A prompt's size in tokens as estimated before a model counts it: the system prompt, each
// message with its tool calls, and the tool definitions (what the encoders announce at the start
// and what `count_tokens` answers).
std::int64_t estimate_prompt_tokens(const llm::ChatRequest& request);

// Starts `call` in its own coroutine on the caller's executor. Provider failures end the turn with
// failure() set as a conversation's turn does (502 upstream, 503 overloaded); Turn::cancel aborts
// the provider request (the call then ends `partial`, finish_reason "cancelled").
boost::asio::awaitable<std::unique_ptr<Turn>> start_call(
    llm::ModelRouter& router, CallRequest call, CallEnded on_end
);

}  // namespace parley::messages
