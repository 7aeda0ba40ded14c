// Inside a Turn (messages/ only): the state an answer's coroutine shares with its reader, and the
// accounting both kinds of answer share (a conversation's turn in service.cpp, a stateless call
// in call.cpp): tokens and cost, and how the ending is told to the reader.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include "async/event.hpp"
#include "llm/catalog.hpp"
#include "llm/types.hpp"
#include "messages/service.hpp"

namespace parley::messages {

struct Turn::State {
    explicit State(const boost::asio::any_io_executor& ex) : ready(ex) {}

    StreamStart start;
    std::deque<TurnEvent> queue;
    async::Notifier ready;
    boost::asio::cancellation_signal cancel_signal;
    StopCause cancelled_by = StopCause::none;
    bool running = true;
    bool in_model = false;  // the provider request is under way: cancel() aborts it
    bool started = false;
    StreamEnd outcome;
    std::optional<Error> failure;
    std::function<bool()> inline_reader;  // Turn::set_inline_reader

    void push(TurnEvent e) {
        queue.push_back(std::move(e));
        if (inline_reader && ready.waited_on_here() && inline_reader()) {
            return;  // the waiting reader's plain call wrote it
        }
        ready.notify_inline();  // the reader (a relay) writes the event at once
    }

    // Ends the turn without an answer: `error` is what the reader gets.
    void fail(Error error) {
        outcome.error_type = std::string(error_type_name(error.type));
        outcome.error_message = error.message;
        failure = std::move(error);
        running = false;
        push({TurnEvent::Kind::end, {}});
    }
};

// Tokens and cost of an answer into `reply` (input_tokens, output_tokens, token_count,
// cost_micros): the provider's usage when it reported one (`usage` not null), else estimates
// (`estimated_input`, and the answer's text); an answer that failed without usage bills nothing.
// `answered` is the catalog entry of the model that answered (null: unknown, costs nothing).
void settle_tokens(
    store::Message& reply,
    const llm::ModelInfo* answered,
    bool ok,
    const llm::Usage* usage,
    std::int64_t estimated_input
);

// How an answer ended, into `reply` (status, finish_reason) and the turn's outcome (the wire
// error and, for a request that has not started a stream, the API error): stopped (st.cancelled_by
// set: client left or shutdown, `partial`), `complete` with `finish`, or failed upstream (`error`:
// 503 overloaded when every model was down, else 502).
void settle_ending(
    Turn::State& st,
    store::Message& reply,
    bool ok,
    std::optional<llm::FinishReason> finish,
    const llm::StreamEvent* error  // the failure, if any
);

// Runs `work` (the answer) on `executor`, cancellable through state->cancel_signal (Turn::cancel);
// an exception out of it is logged and, if the turn had not ended, ends it with a 500 so that
// the reader is not left waiting.
void spawn_turn(
    const boost::asio::any_io_executor& executor,
    std::shared_ptr<Turn::State> state,
    boost::asio::awaitable<void> work
);

}  // namespace parley::messages
