// The session event log: order kept, tokens coalesced (never a row per token), everything stored
// once flush() returns — over a real SQLite store.
#include "messages/session_log.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "async/blocking_pool.hpp"
#include "common/ids.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::messages {
namespace {

using testing::run_awaitable;

boost::asio::awaitable<bool> flushed(std::shared_ptr<SessionLog> log) {
    co_await log->flush();
    co_return true;
}

class SessionLogTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = db_.open(pool_);
        ASSERT_TRUE(store_->migrate().has_value());
        const auto c = testing::seed_conversation(*store_, now_);
        ASSERT_TRUE(c);
        id_ = c->id;
    }

    std::vector<store::SessionEvent> stored() {
        auto r = run_awaitable(ctx_, store_->list_session_events(id_, std::nullopt, 10'000));
        EXPECT_TRUE(r.has_value());
        return r ? *r : std::vector<store::SessionEvent>{};
    }

    std::shared_ptr<SessionLog> make_log() {
        return std::make_shared<SessionLog>(
            *store_, id_, ctx_.get_executor(), SessionLogOptions{}, [this] { return now_; }
        );
    }

    boost::asio::io_context ctx_;
    async::BlockingPool pool_{2};
    testing::TestDatabase db_{testing::Backend::sqlite};
    std::unique_ptr<store::Store> store_;
    std::string id_;
    TimePoint now_ =
        std::chrono::sys_days{std::chrono::December / 2 / 2026} + std::chrono::hours{10};
};

TEST_F(SessionLogTest, A500TokenAnswerWritesAFewDozenRowsWithEveryToken) {
    auto log = make_log();
    log->event("system_event", "session started");
    log->event("user_message", "Tell me a long story");
    std::string answer;
    for (int i = 0; i < 500; ++i) {
        const std::string token = " w" + std::to_string(i);
        answer += token;
        log->token(token);
        now_ += std::chrono::milliseconds(1);  // a fast model: 32 tokens fill a row first
    }
    log->event("system_event", "turn ended");
    EXPECT_TRUE(run_awaitable(ctx_, flushed(log)));

    const auto rows = stored();
    EXPECT_LE(rows.size(), 30U) << "tokens are coalesced";
    EXPECT_EQ(rows.size(), log->rows_written());
    ASSERT_GE(rows.size(), 4U);
    EXPECT_EQ(rows.front().content, "session started");
    EXPECT_EQ(rows[1].type, "user_message");
    EXPECT_EQ(rows.back().content, "turn ended");
    std::string tokens;
    for (const auto& r : rows) {
        if (r.type == "ai_token") {
            tokens += r.content;
        }
    }
    EXPECT_EQ(tokens, answer) << "every token, in order";
}

TEST_F(SessionLogTest, ASlowModelGetsARowPer100Milliseconds) {
    auto log = make_log();
    for (int i = 0; i < 10; ++i) {
        log->token("t");
        now_ += std::chrono::milliseconds(60);
    }
    EXPECT_TRUE(run_awaitable(ctx_, flushed(log)));
    // 10 tokens 60 ms apart: a row closes at the token 100 ms or more after its first.
    const auto rows = stored();
    EXPECT_EQ(rows.size(), 5U);
    for (const auto& r : rows) {
        EXPECT_EQ(r.content, "tt");
    }
}

TEST_F(SessionLogTest, EventsOfADeletedConversationAreDroppedQuietly) {
    auto log = make_log();
    ASSERT_TRUE(run_awaitable(ctx_, store_->delete_conversation(id_)).value());
    log->event("user_message", "too late");
    EXPECT_TRUE(run_awaitable(ctx_, flushed(log)));
    EXPECT_EQ(log->rows_written(), 0U);
}

}  // namespace
}  // namespace parley::messages
