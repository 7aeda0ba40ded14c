// The session event log and the summary's timestamp, on every backend.
#include <chrono>

#include <gtest/gtest.h>

#include "async/blocking_pool.hpp"
#include "common/ids.hpp"
#include "store/store.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::store {
namespace {

using testing::run_awaitable;
using testing::TestDatabase;

constexpr TimePoint kBase =
    std::chrono::sys_days{std::chrono::December / 1 / 2026} + std::chrono::hours{9};

class SessionStoreTest : public ::testing::TestWithParam<testing::Backend> {
protected:
    void SetUp() override {
        db_ = std::make_unique<TestDatabase>(GetParam());
        if (!db_->available()) {
            GTEST_SKIP() << "no PostgreSQL server configured (PARLEY_TEST_DATABASE_URL)";
        }
        store_ = db_->open(pool_);
        ASSERT_TRUE(store_->migrate().has_value());
        User u{new_uuid_v7(), new_uuid_v7() + "@example.com", "hash", kBase};
        ASSERT_TRUE(run_awaitable(store_->create_user(u)).has_value());
        user_ = u.id;
    }

    Conversation conversation() {
        Conversation c;
        c.id = new_uuid_v7();
        c.user_id = user_;
        c.model = "mock";
        c.created_at = kBase;
        c.updated_at = kBase;
        EXPECT_TRUE(run_awaitable(store_->create_conversation(c)).has_value());
        return c;
    }

    static SessionEvent event(
        const Conversation& c, std::string type, std::string content, int ms
    ) {
        return {
            new_uuid_v7(),
            c.id,
            std::move(type),
            std::move(content),
            kBase + std::chrono::milliseconds(ms)};
    }

    std::vector<SessionEvent> list(
        const std::string& id, std::optional<std::string> after, std::int64_t n
    ) {
        auto r = run_awaitable(store_->list_session_events(id, std::move(after), n));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return r ? *r : std::vector<SessionEvent>{};
    }

    async::BlockingPool pool_{2};
    std::unique_ptr<TestDatabase> db_;
    std::unique_ptr<Store> store_;
    std::string user_;
};

INSTANTIATE_TEST_SUITE_P(
    Backends,
    SessionStoreTest,
    ::testing::ValuesIn(testing::all_backends()),
    testing::backend_param_name
);

TEST_P(SessionStoreTest, BatchesRoundTripInOrderAndPageWithACursor) {
    const auto a = conversation();
    const auto b = conversation();
    const std::string tricky = "quotes \" back\\slash, {braces} 'single'\nnew line, ünï, \t tab";
    const std::vector<SessionEvent> batch = {
        event(a, "system_event", "session started", 0),
        event(a, "user_message", tricky, 1),
        event(a, "ai_token", "Hello there", 2),
        event(b, "user_message", "other conversation", 3),
        event(a, "tool_call", R"({"tool":"calculator","arguments":{"expression":"1+1"}})", 4),
    };
    ASSERT_TRUE(run_awaitable(store_->insert_session_events(batch)).has_value());
    const auto all = list(a.id, std::nullopt, 100);
    ASSERT_EQ(all.size(), 4U);
    EXPECT_EQ(all[0].type, "system_event");
    EXPECT_EQ(all[1].content, tricky);
    EXPECT_EQ(all[1].created_at, batch[1].created_at);
    EXPECT_EQ(all[3].content, batch[4].content);
    const auto first_two = list(a.id, std::nullopt, 2);
    ASSERT_EQ(first_two.size(), 2U);
    const auto rest = list(a.id, first_two.back().id, 10);
    ASSERT_EQ(rest.size(), 2U);
    EXPECT_EQ(rest[0].id, all[2].id);
    EXPECT_EQ(list(b.id, std::nullopt, 10).size(), 1U);
    EXPECT_TRUE(run_awaitable(store_->insert_session_events({})).has_value());
}

TEST_P(SessionStoreTest, ABatchForAMissingConversationWritesNothing) {
    const auto a = conversation();
    Conversation gone;
    gone.id = new_uuid_v7();
    const auto r = run_awaitable(store_->insert_session_events(
        {event(a, "user_message", "kept?", 0), event(gone, "user_message", "no", 1)}
    ));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().type, ErrorType::not_found);
    EXPECT_TRUE(list(a.id, std::nullopt, 10).empty());
}

TEST_P(SessionStoreTest, EventsGoWithTheirConversation) {
    const auto a = conversation();
    ASSERT_TRUE(
        run_awaitable(store_->insert_session_events({event(a, "user_message", "x", 0)})).has_value()
    );
    ASSERT_TRUE(run_awaitable(store_->delete_conversation(a.id)).value());
    EXPECT_TRUE(list(a.id, std::nullopt, 10).empty());
}

TEST_P(SessionStoreTest, SummaryAndItsTimeRoundTrip) {
    auto c = conversation();
    EXPECT_FALSE(run_awaitable(store_->find_conversation(c.id)).value()->summary_updated_at);
    c.summary = "The user asked about Python.";
    c.summary_updated_at = kBase + std::chrono::minutes(5);
    ASSERT_TRUE(run_awaitable(store_->update_conversation(c)).value());
    const auto found = run_awaitable(store_->find_conversation(c.id)).value();
    EXPECT_EQ(found->summary, c.summary);
    EXPECT_EQ(found->summary_updated_at, c.summary_updated_at);
}

}  // namespace
}  // namespace parley::store
