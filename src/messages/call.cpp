#include "messages/call.hpp"

#include <algorithm>
#include <exception>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

#include "common/log.hpp"
#include "messages/turn_state.hpp"

namespace parley::messages {

namespace asio = boost::asio;

namespace {

// The error type a stream shows for an upstream failure, in the Anthropic vocabulary.
std::string wire_error_type(llm::UpstreamError e) {
    switch (e) {
        case llm::UpstreamError::overloaded:
        case llm::UpstreamError::rate_limit:
            return "overloaded_error";
        case llm::UpstreamError::timeout:
            return "timeout_error";
        default:
            return "api_error";
    }
}

// The call itself: one router stream, its events queued for the reader, the account settled and
// handed to `on_end`, then `end`.
asio::awaitable<void> run_call(
    llm::ModelRouter& router, std::shared_ptr<Turn::State> st, CallRequest call, CallEnded on_end
) {
    std::string text;
    std::string thinking;
    std::optional<llm::Usage> usage;
    std::optional<llm::FinishReason> finish;
    std::optional<llm::StreamEvent> error;
    const auto sink = [&](llm::StreamEvent&& e) {
        switch (e.kind) {
            case llm::StreamEvent::Kind::thinking_delta:
                thinking += e.text;
                st->started = true;
                st->push({TurnEvent::Kind::thinking, std::move(e.text)});
                break;
            case llm::StreamEvent::Kind::text_delta:
                text += e.text;
                st->started = true;
                st->push({TurnEvent::Kind::text, std::move(e.text)});
                break;
            case llm::StreamEvent::Kind::tool_call:
                st->started = true;
                st->push(
                    {TurnEvent::Kind::tool_call,
                     std::move(e.tool_call.arguments),
                     std::move(e.tool_call.id),
                     std::move(e.tool_call.name),
                     true}
                );
                break;
            case llm::StreamEvent::Kind::usage:
                usage = e.usage;
                break;
            case llm::StreamEvent::Kind::stop:
                finish = e.finish;
                break;
            case llm::StreamEvent::Kind::error:
                error = std::move(e);
                break;
        }
    };
    llm::RouteResult route;
    route.model = call.model->id;
    route.provider = call.model->provider;
    bool aborted = false;
    if (st->cancelled_by == StopCause::none) {
        st->in_model = true;
        try {
            route = co_await router.stream(*call.model, call.request, sink);
        } catch (const std::exception& e) {
            aborted = true;
            if (st->cancelled_by == StopCause::none) {
                log::error("model stream failed", {{"what", e.what()}});
            }
        }
        st->in_model = false;
    }
    if (st->cancelled_by != StopCause::none || aborted) {
        // What follows must run to the end: the cancellation was for the provider request.
        co_await asio::this_coro::reset_cancellation_state();
        route.ok = false;
    }
    store::Message reply;
    reply.id = call.id;
    reply.role = "assistant";
    reply.content = std::move(text);
    if (!thinking.empty()) {
        reply.thinking = std::move(thinking);
    }
    reply.model = route.model;
    reply.provider = route.provider;
    settle_tokens(
        reply,
        router.catalog().find(route.model),
        route.ok,
        usage ? &*usage : nullptr,
        st->start.input_tokens
    );
    settle_ending(*st, reply, route.ok, finish, error ? &*error : nullptr);
    if (on_end) {
        co_await on_end(reply);
    }
    st->outcome.reply = std::move(reply);
    st->running = false;
    st->push({TurnEvent::Kind::end, {}});
}

}  // namespace

void settle_tokens(
    store::Message& reply,
    const llm::ModelInfo* answered,
    bool ok,
    const llm::Usage* usage,
    std::int64_t estimated_input
) {
    reply.input_tokens = usage != nullptr ? usage->input_tokens : estimated_input;
    reply.output_tokens =
        usage != nullptr ? usage->output_tokens : llm::estimate_tokens(reply.content);
    if (!ok && usage == nullptr) {
        // Nothing answered (or the answer broke off unreported): estimates are not billed.
        reply.input_tokens = 0;
    }
    reply.token_count = reply.output_tokens;
    const bool billable = ok || usage != nullptr;
    reply.cost_micros = answered != nullptr && billable
                            ? answered->cost_micros(reply.input_tokens, reply.output_tokens)
                            : 0;
}

void settle_ending(
    Turn::State& st,
    store::Message& reply,
    bool ok,
    std::optional<llm::FinishReason> finish,
    const llm::StreamEvent* error
) {
    StreamEnd& end = st.outcome;
    if (st.cancelled_by != StopCause::none) {
        reply.status = "partial";
        reply.finish_reason = "cancelled";
        const bool shutdown = st.cancelled_by == StopCause::shutdown;
        end.error_type = shutdown ? "overloaded_error" : "api_error";
        end.error_message = shutdown ? "the server is shutting down; the answer so far is saved"
                                     : "the client went away";
        st.failure = make_error(ErrorType::overloaded, end.error_message);
    } else if (ok) {
        reply.status = "complete";
        reply.finish_reason =
            std::string(llm::finish_reason_name(finish.value_or(llm::FinishReason::stop)));
    } else {
        reply.status = reply.content.empty() ? "error" : "partial";
        reply.finish_reason = "error";
        const bool all_down = error && error->error == llm::UpstreamError::overloaded;
        end.error_type = error ? wire_error_type(error->error) : "api_error";
        end.error_message = all_down ? "every model provider is unavailable; try again shortly"
                                     : "the model provider failed to answer";
        st.failure = make_error(
            all_down ? ErrorType::overloaded : ErrorType::upstream,
            end.error_message,
            error ? error->text : std::string{}
        );
    }
}

void spawn_turn(
    const asio::any_io_executor& executor,
    std::shared_ptr<Turn::State> state,
    asio::awaitable<void> work
) {
    auto slot = state->cancel_signal.slot();
    asio::co_spawn(
        executor,
        std::move(work),
        asio::bind_cancellation_slot(
            slot,
            [state](const std::exception_ptr& e) {
                if (!e) {
                    return;
                }
                std::string what;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    what = x.what();
                } catch (...) {
                    what = "an exception not derived from std::exception";
                }
                log::error("answer failed", {{"what", what}});
                if (state->running) {
                    // The reader is waiting for an end that the turn can no longer send.
                    state->fail(make_error(ErrorType::api, "the answer failed", what));
                }
            }
        )
    );
}

std::int64_t estimate_prompt_tokens(const llm::ChatRequest& request) {
    std::int64_t n = llm::estimate_tokens(request.system);
    for (const auto& m : request.messages) {
        n += llm::estimate_tokens(m.content) + 4;
        for (const auto& c : m.tool_calls) {
            n += llm::estimate_tokens(c.name) + llm::estimate_tokens(c.arguments) + 8;
        }
    }
    for (const auto& t : request.tools) {
        n += llm::estimate_tokens(t.name) + llm::estimate_tokens(t.description) +
             llm::estimate_tokens(t.parameters) + 8;
    }
    return n;
}

asio::awaitable<std::unique_ptr<Turn>> start_call(
    llm::ModelRouter& router, CallRequest call, CallEnded on_end
) {
    const auto executor = co_await asio::this_coro::executor;
    auto state = std::make_shared<Turn::State>(executor);
    call.request.model = call.model->id;
    state->start.message_id = call.id;
    state->start.model = call.model->id;
    state->start.input_tokens = estimate_prompt_tokens(call.request);
    state->start.created_unix = call.created_unix;
    spawn_turn(executor, state, run_call(router, state, std::move(call), std::move(on_end)));
    co_return std::make_unique<Turn>(std::move(state));
}

}  // namespace parley::messages
