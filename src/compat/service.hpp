// The compatible endpoints' one service: a decoded call run through the router as a stateless
// turn (messages/call.hpp), its spend recorded through usage::UsageRecorder once it ends, by the
// caller's user and key. No HTTP types here.
#pragma once

#include <memory>

#include <boost/asio/awaitable.hpp>

#include "common/principal.hpp"
#include "compat/openai.hpp"
#include "llm/router.hpp"
#include "messages/call.hpp"
#include "usage/budget.hpp"
#include "usage/recorder.hpp"

namespace parley::compat {

class CompatService {
public:
    CompatService(
        llm::ModelRouter& router, usage::UsageRecorder& recorder, Clock clock = system_now
    );

    const llm::ModelRouter& router() const noexcept { return router_; }

    // Where every call's spend is reserved and settled (budgets); none: no budgets. Call before
    // serving.
    void set_budgets(usage::Budgets* budgets) noexcept { budgets_ = budgets; }

    // Starts `call` for `who`, to be streamed (messages::stream_turn). The spend is recorded as
    // `kind` when the answer ends, whether or not the client still reads. Errors:
    // budget_exceeded (429: a budget of the account or key is spent; no model is asked).
    boost::asio::awaitable<Result<std::unique_ptr<messages::Turn>>> start(
        const Principal& who, usage::CallKind kind, messages::CallRequest call
    );

    // Runs `call` to its end and returns the whole answer. Errors: budget_exceeded (as start's),
    // upstream (502: the provider failed or answered an error), overloaded (503: every model in
    // the chain failed).
    boost::asio::awaitable<Result<CollectedAnswer>> complete(
        const Principal& who, usage::CallKind kind, messages::CallRequest call
    );

    // A new answer id and the current time, for a call about to start.
    void stamp(messages::CallRequest& call, std::string_view id_prefix) const;

private:
    llm::ModelRouter& router_;
    usage::UsageRecorder& recorder_;
    usage::Budgets* budgets_ = nullptr;
    Clock clock_;
};

}  // namespace parley::compat
