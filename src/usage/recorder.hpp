// The one place where the spend of a model call that stores no message is recorded (table
// usage_records): the OpenAI- and Anthropic-compatible endpoints today, titles and summaries next.
// A conversation's answers carry their own tokens and cost in `messages`; everything else goes
// through UsageRecorder::record, so a budget check has one place to count spend from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "common/principal.hpp"
#include "common/time.hpp"
#include "store/store.hpp"

namespace parley::usage {

// What a recorded call was for (usage_records.kind).
enum class CallKind { compat_chat, compat_messages, title, summary };

// "compat_chat", "compat_messages", "title", "summary".
std::string_view call_kind_name(CallKind kind) noexcept;

// One finished model call: the model and provider that answered (after any fallback) and what it
// cost, exactly as the answer's account says (llm::ModelInfo::cost_micros).
struct ModelCall {
    CallKind kind = CallKind::compat_chat;
    std::string model;
    std::string provider;
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    std::int64_t cost_micros = 0;
};

class UsageRecorder {
public:
    explicit UsageRecorder(store::Store& store, Clock clock = system_now);

    // Records `call` for `who` (its user, and its API key when it authenticated with one). A call
    // that billed nothing (no tokens, no cost: it failed before an answer) is not recorded.
    // Errors: the store's (api, overloaded); the answer has been given by then, so callers log
    // them rather than fail the request. Runs on the caller's executor.
    boost::asio::awaitable<Result<void>> record(Principal who, ModelCall call);

private:
    store::Store& store_;
    Clock clock_;
};

}  // namespace parley::usage
