// The event log of a WebSocket session (seed 004): what happened, in order, written to the
// store's session_events off the hot path. Tokens are coalesced: one `ai_token` row per 100 ms or
// 32 tokens (whichever comes first), never one row per token; other events (user_message,
// tool_call, tool_result, routing, system_event) are rows of their own. Rows are written in
// batches by one writer at a time; flush() waits until everything recorded is stored, so a turn's
// events are complete once the turn ends. Not thread-safe: use it from one executor.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "async/event.hpp"
#include "common/time.hpp"
#include "store/store.hpp"

namespace parley::messages {

struct SessionLogOptions {
    std::chrono::milliseconds token_window{100};  // a token row closes once this old…
    std::size_t tokens_per_row = 32;              // …or this full
};

class SessionLog : public std::enable_shared_from_this<SessionLog> {
public:
    SessionLog(
        store::Store& store,
        std::string conversation_id,
        const boost::asio::any_io_executor& executor,
        SessionLogOptions options = {},
        Clock clock = system_now
    );

    // Records an event (closing the token row in progress first).
    void event(std::string type, std::string content);

    // Records a token of the answer.
    void token(std::string_view text);

    // Writes everything recorded so far and waits until it is stored. Failures are logged, not
    // returned: the log must never fail a turn.
    boost::asio::awaitable<void> flush();

    // Rows written so far (for tests and metrics).
    std::size_t rows_written() const noexcept { return written_; }

private:
    void seal_tokens();
    void start_writer();
    boost::asio::awaitable<void> write_pending(std::shared_ptr<SessionLog> self);

    store::Store& store_;
    std::string conversation_id_;
    boost::asio::any_io_executor executor_;
    SessionLogOptions options_;
    Clock clock_;
    std::vector<store::SessionEvent> pending_;
    std::string tokens_;  // the ai_token row in progress
    std::size_t token_count_ = 0;
    TimePoint tokens_started_{};
    bool writing_ = false;
    async::Notifier drained_;
    std::size_t written_ = 0;
};

}  // namespace parley::messages
