#include "compat/service.hpp"

#include "common/ids.hpp"
#include "common/log.hpp"

namespace parley::compat {

namespace asio = boost::asio;

namespace {

// Records a finished call's spend; a failure is logged (the answer has been given).
asio::awaitable<void> record_spend(
    usage::UsageRecorder& recorder, Principal who, usage::CallKind kind, store::Message reply
) {
    usage::ModelCall call;
    call.kind = kind;
    call.model = reply.model.value_or("");
    call.provider = reply.provider.value_or("");
    call.input_tokens = reply.input_tokens;
    call.output_tokens = reply.output_tokens;
    call.cost_micros = reply.cost_micros;
    if (auto r = co_await recorder.record(std::move(who), std::move(call)); !r) {
        log::error(
            "could not record usage",
            {{"kind", usage::call_kind_name(kind)}, {"detail", r.error().detail}}
        );
    }
}

// Settles the call's budget reservation (when it holds one) with its exact cost, then records
// its spend.
asio::awaitable<void> settle_and_record(
    usage::UsageRecorder& recorder,
    usage::Budgets* budgets,
    std::shared_ptr<usage::BudgetHold> hold,
    Principal who,
    usage::CallKind kind,
    store::Message reply
) {
    if (budgets != nullptr && hold) {
        co_await budgets->settle(std::move(*hold), reply.cost_micros);
    }
    co_await record_spend(recorder, std::move(who), kind, std::move(reply));
}

}  // namespace

CompatService::CompatService(llm::ModelRouter& router, usage::UsageRecorder& recorder, Clock clock)
    : router_(router),
      recorder_(recorder),
      clock_(std::move(clock)) {}

void CompatService::stamp(messages::CallRequest& call, std::string_view id_prefix) const {
    call.id = std::string(id_prefix) + new_uuid_v7();
    call.created_unix = to_unix_seconds(clock_());
}

asio::awaitable<Result<std::unique_ptr<messages::Turn>>> CompatService::start(
    const Principal& who, usage::CallKind kind, messages::CallRequest call
) {
    // Shared: CallEnded is a std::function (copyable); the hold settles once, when the call ends.
    std::shared_ptr<usage::BudgetHold> hold;
    if (budgets_ != nullptr) {
        // The most this call can cost: the prompt as estimated and every output token allowed.
        auto reserved = co_await budgets_->reserve(
            who,
            call.model->cost_micros(
                messages::estimate_prompt_tokens(call.request), call.request.max_tokens
            )
        );
        if (!reserved) {
            co_return reserved.error();
        }
        hold = std::make_shared<usage::BudgetHold>(std::move(*reserved));
    }
    messages::CallEnded on_end =
        [recorder = &recorder_, budgets = budgets_, hold, who, kind](store::Message reply) {
            return settle_and_record(*recorder, budgets, hold, who, kind, std::move(reply));
        };
    co_return co_await messages::start_call(router_, std::move(call), std::move(on_end));
}

asio::awaitable<Result<CollectedAnswer>> CompatService::complete(
    const Principal& who, usage::CallKind kind, messages::CallRequest call
) {
    auto started = co_await start(who, kind, std::move(call));
    if (!started) {
        co_return started.error();
    }
    auto turn = std::move(*started);
    CollectedAnswer a;
    for (;;) {
        auto e = co_await turn->next();
        if (e.kind == messages::TurnEvent::Kind::end) {
            break;
        }
        switch (e.kind) {
            case messages::TurnEvent::Kind::thinking:
                a.thinking += e.text;
                break;
            case messages::TurnEvent::Kind::text:
                a.text += e.text;
                break;
            case messages::TurnEvent::Kind::tool_call: {
                llm::ToolCall made;
                made.id = std::move(e.tool_id);
                made.name = std::move(e.tool_name);
                made.arguments = std::move(e.text);
                a.tool_calls.push_back(std::move(made));
                break;
            }
            default:
                break;
        }
    }
    if (turn->failure()) {
        co_return *turn->failure();
    }
    a.reply = turn->outcome().reply;
    co_return a;
}

}  // namespace parley::compat
