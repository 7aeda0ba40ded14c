#include "messages/session_log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "common/ids.hpp"
#include "common/log.hpp"

namespace parley::messages {

namespace asio = boost::asio;

SessionLog::SessionLog(
    store::Store& store,
    std::string conversation_id,
    const asio::any_io_executor& executor,
    SessionLogOptions options,
    Clock clock
)
    : store_(store),
      conversation_id_(std::move(conversation_id)),
      executor_(executor),
      options_(options),
      clock_(std::move(clock)),
      drained_(executor) {}

void SessionLog::event(std::string type, std::string content) {
    seal_tokens();
    pending_.push_back(
        {new_uuid_v7(), conversation_id_, std::move(type), std::move(content), clock_()}
    );
    start_writer();
}

void SessionLog::token(std::string_view text) {
    const auto now = clock_();
    if (token_count_ > 0 && now - tokens_started_ >= options_.token_window) {
        // A token after the row's window starts the next row.
        seal_tokens();
        start_writer();
    }
    if (token_count_ == 0) {
        tokens_started_ = now;
    }
    tokens_ += text;
    ++token_count_;
    if (token_count_ >= options_.tokens_per_row) {
        seal_tokens();
        start_writer();
    }
}

void SessionLog::seal_tokens() {
    if (token_count_ == 0) {
        return;
    }
    // The row is stamped with its first token's time, so it sorts where the tokens began.
    pending_.push_back(
        {new_uuid_v7(), conversation_id_, "ai_token", std::move(tokens_), tokens_started_}
    );
    tokens_.clear();
    token_count_ = 0;
}

void SessionLog::start_writer() {
    if (writing_ || pending_.empty()) {
        return;
    }
    writing_ = true;
    asio::co_spawn(executor_, write_pending(shared_from_this()), asio::detached);
}

asio::awaitable<void>
SessionLog::write_pending(std::shared_ptr<SessionLog> /*self: alive while writing*/) {
    // One batch at a time: whatever accumulated while the previous one was being written.
    while (!pending_.empty()) {
        std::vector<store::SessionEvent> batch;
        batch.swap(pending_);
        const auto rows = batch.size();
        auto written = co_await store_.insert_session_events(std::move(batch));
        if (written) {
            written_ += rows;
        } else if (written.error().type != ErrorType::not_found) {
            // not_found: the conversation was deleted meanwhile; nothing to keep.
            log::warn(
                "session events not stored",
                {{"conversation_id", conversation_id_},
                 {"rows", static_cast<std::int64_t>(rows)},
                 {"error", written.error().detail}}
            );
        }
    }
    writing_ = false;
    drained_.notify();
}

asio::awaitable<void> SessionLog::flush() {
    seal_tokens();
    start_writer();
    while (writing_) {
        co_await drained_.wait();
    }
}

}  // namespace parley::messages
