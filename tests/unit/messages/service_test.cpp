// MessageService against a real SQLite store wrapped in a test double that can fail writes (by
// returning an error or by throwing), with the built-in mock model: whatever the store does, a
// turn ends, and a failure to store the user's message is the turn's error (503), never a hang.
// Every turn runs under a deadline, so a regression fails instead of hanging the suite.
#include "messages/service.hpp"

#include <chrono>
#include <filesystem>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "async/blocking_pool.hpp"
#include "common/ids.hpp"

namespace parley::messages {
namespace {

namespace asio = boost::asio;
using store::Message;
using store::Store;

constexpr std::chrono::seconds kDeadline{10};

// What the double does to an insert_message call.
enum class Fault { none, throw_exception, return_error };

// Forwards everything to a real store, except that insert_message can fail, separately for the
// user's messages and for the answers.
class FaultyStore final : public Store {
public:
    explicit FaultyStore(Store& inner) : inner_(inner) {}

    Fault user_fault = Fault::none;
    Fault reply_fault = Fault::none;

    asio::awaitable<Result<void>> insert_message(Message m) override {
        const Fault fault = m.role == "user" ? user_fault : reply_fault;
        if (fault == Fault::throw_exception) {
            throw std::runtime_error("injected: the store threw");
        }
        if (fault == Fault::return_error) {
            co_return make_error(ErrorType::api, "database error", "injected: the store failed");
        }
        co_return co_await inner_.insert_message(std::move(m));
    }

    std::string_view backend() const noexcept override { return inner_.backend(); }

    // As the store it wraps, so the service takes the same paths (reads in turn on SQLite).
    bool commits_in_groups() const noexcept override { return inner_.commits_in_groups(); }

    bool reads_at_once() const noexcept override { return inner_.reads_at_once(); }

    Result<std::vector<int>> migrate() override { return inner_.migrate(); }

    Result<std::vector<int>> applied_migrations() override { return inner_.applied_migrations(); }

    asio::awaitable<Result<void>> ping() override { return inner_.ping(); }

    asio::awaitable<Result<void>> create_user(store::User user) override {
        return inner_.create_user(std::move(user));
    }

    asio::awaitable<Result<std::optional<store::User>>> find_user_by_email(std::string email
    ) override {
        return inner_.find_user_by_email(std::move(email));
    }

    asio::awaitable<Result<std::optional<store::User>>> find_user(std::string id) override {
        return inner_.find_user(std::move(id));
    }

    asio::awaitable<Result<void>> insert_refresh_token(store::RefreshToken token) override {
        return inner_.insert_refresh_token(std::move(token));
    }

    asio::awaitable<Result<std::optional<store::RefreshToken>>> find_refresh_token(
        std::string sha256
    ) override {
        return inner_.find_refresh_token(std::move(sha256));
    }

    asio::awaitable<Result<bool>> rotate_refresh_token(
        std::string old_id, store::RefreshToken replacement, TimePoint now
    ) override {
        return inner_.rotate_refresh_token(std::move(old_id), std::move(replacement), now);
    }

    asio::awaitable<Result<void>> revoke_refresh_family(std::string family_id, TimePoint now)
        override {
        return inner_.revoke_refresh_family(std::move(family_id), now);
    }

    asio::awaitable<Result<void>> create_api_key(store::ApiKey key) override {
        return inner_.create_api_key(std::move(key));
    }

    asio::awaitable<Result<std::vector<store::ApiKey>>> list_api_keys(std::string user_id
    ) override {
        return inner_.list_api_keys(std::move(user_id));
    }

    asio::awaitable<Result<std::optional<store::ApiKey>>> find_api_key(std::string sha256
    ) override {
        return inner_.find_api_key(std::move(sha256));
    }

    asio::awaitable<Result<bool>> revoke_api_key(std::string id, std::string user_id, TimePoint now)
        override {
        return inner_.revoke_api_key(std::move(id), std::move(user_id), now);
    }

    asio::awaitable<Result<void>> touch_api_key(std::string id, TimePoint now) override {
        return inner_.touch_api_key(std::move(id), now);
    }

    asio::awaitable<Result<void>> create_conversation(store::Conversation c) override {
        return inner_.create_conversation(std::move(c));
    }

    asio::awaitable<Result<std::optional<store::Conversation>>> find_conversation(std::string id
    ) override {
        return inner_.find_conversation(std::move(id));
    }

    asio::awaitable<Result<store::Page<store::Conversation>>> list_conversations(
        store::ConversationFilter filter, std::int64_t offset, std::int64_t limit
    ) override {
        return inner_.list_conversations(std::move(filter), offset, limit);
    }

    asio::awaitable<Result<std::vector<store::Conversation>>> list_conversations_after(
        store::ConversationFilter filter,
        std::optional<store::ConversationCursor> after,
        std::int64_t limit
    ) override {
        return inner_.list_conversations_after(std::move(filter), std::move(after), limit);
    }

    asio::awaitable<Result<bool>> update_conversation(store::Conversation c) override {
        return inner_.update_conversation(std::move(c));
    }

    asio::awaitable<Result<bool>> delete_conversation(std::string id) override {
        return inner_.delete_conversation(std::move(id));
    }

    asio::awaitable<Result<store::Page<Message>>> list_messages(
        std::string conversation_id, std::int64_t offset, std::int64_t limit
    ) override {
        return inner_.list_messages(std::move(conversation_id), offset, limit);
    }

    asio::awaitable<Result<std::vector<store::PathMessage>>> message_path(
        std::string conversation_id,
        std::optional<std::string> leaf_id,
        std::int64_t limit,
        store::Siblings siblings
    ) override {
        return inner_.message_path(std::move(conversation_id), std::move(leaf_id), limit, siblings);
    }

    asio::awaitable<Result<std::optional<std::string>>> branch_leaf(
        std::string conversation_id, std::string message_id
    ) override {
        return inner_.branch_leaf(std::move(conversation_id), std::move(message_id));
    }

    asio::awaitable<Result<bool>> set_active_leaf(std::string conversation_id, std::string leaf_id)
        override {
        return inner_.set_active_leaf(std::move(conversation_id), std::move(leaf_id));
    }

    asio::awaitable<Result<void>> insert_conversation_trees(
        std::vector<store::ConversationTree> trees
    ) override {
        return inner_.insert_conversation_trees(std::move(trees));
    }

    asio::awaitable<Result<void>> create_share(store::Share share) override {
        return inner_.create_share(std::move(share));
    }

    asio::awaitable<Result<std::optional<store::Share>>> find_share(std::string token) override {
        return inner_.find_share(std::move(token));
    }

    asio::awaitable<Result<std::vector<store::Share>>> list_shares(std::string user_id) override {
        return inner_.list_shares(std::move(user_id));
    }

    asio::awaitable<Result<bool>> revoke_share(std::string id, std::string user_id, TimePoint now)
        override {
        return inner_.revoke_share(std::move(id), std::move(user_id), now);
    }

    asio::awaitable<Result<std::vector<store::MessageHit>>> search_messages(
        store::MessageSearch search, std::int64_t offset, std::int64_t limit
    ) override {
        return inner_.search_messages(std::move(search), offset, limit);
    }

    asio::awaitable<Result<store::Page<store::ExchangeHit>>> search_exchanges(
        std::string user_id, store::SearchQuery query, std::int64_t offset, std::int64_t limit
    ) override {
        return inner_.search_exchanges(std::move(user_id), std::move(query), offset, limit);
    }

    asio::awaitable<Result<store::Page<store::Exchange>>> list_exchanges(
        std::string user_id, std::int64_t offset, std::int64_t limit
    ) override {
        return inner_.list_exchanges(std::move(user_id), offset, limit);
    }

    asio::awaitable<Result<std::optional<store::Exchange>>> find_exchange(
        std::string conversation_id
    ) override {
        return inner_.find_exchange(std::move(conversation_id));
    }

    asio::awaitable<Result<void>> insert_session_events(std::vector<store::SessionEvent> events
    ) override {
        return inner_.insert_session_events(std::move(events));
    }

    asio::awaitable<Result<std::vector<store::SessionEvent>>> list_session_events(
        std::string conversation_id, std::optional<std::string> after_id, std::int64_t limit
    ) override {
        return inner_.list_session_events(std::move(conversation_id), std::move(after_id), limit);
    }

    asio::awaitable<Result<void>> insert_usage_record(store::UsageRecord record) override {
        return inner_.insert_usage_record(std::move(record));
    }

    asio::awaitable<Result<store::UsageStats>> usage_stats(
        std::string user_id, std::optional<TimePoint> from, std::optional<TimePoint> to
    ) override {
        return inner_.usage_stats(std::move(user_id), from, to);
    }

private:
    Store& inner_;
};

// A new, empty directory for the test's database.
std::filesystem::path fresh_dir() {
    auto dir = std::filesystem::temp_directory_path() / ("parley-messages-" + new_uuid_v7());
    std::filesystem::create_directories(dir);
    return dir;
}

std::unique_ptr<Store> open_sqlite(const std::filesystem::path& file, async::BlockingPool& pool) {
    auto opened =
        store::open_store({store::DatabaseUrl::Kind::sqlite, file.string()}, pool).value();
    opened->migrate().value();
    return opened;
}

llm::ModelRouter make_router() {
    std::map<std::string, std::unique_ptr<llm::Provider>, std::less<>> providers;
    providers.emplace("mock", llm::make_mock_provider({std::chrono::milliseconds(0)}));
    llm::RouterOptions options;
    options.default_model = "parley-mock";
    return llm::ModelRouter(llm::Catalog::builtin(), std::move(providers), {}, options);
}

class MessageServiceTest : public ::testing::Test {
protected:
    MessageServiceTest()
        : dir_(fresh_dir()),
          pool_(2),
          real_(open_sqlite(dir_ / "t.db", pool_)),
          store_(*real_),
          router_(make_router()),
          conversations_(store_, router_),
          messages_(store_, conversations_, router_, MessageOptions{}) {
        who_.user_id = new_uuid_v7();
        who_.scopes = kAllScopes;
        run(create_conversation());
    }

    ~MessageServiceTest() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    asio::awaitable<bool> create_conversation() {
        store::User user{who_.user_id, who_.user_id + "@example.com", "x", system_now()};
        (co_await store_.create_user(std::move(user))).value();
        conversations::NewConversation spec;
        conversation_id_ = (co_await conversations_.create(who_, std::move(spec))).value().id;
        co_return true;
    }

    // Starts a turn and reads it to its end; the wire error type it ended with.
    asio::awaitable<std::string> stream_to_end() {
        auto turn = (co_await messages_.start(who_, conversation_id_, hello())).value();
        while ((co_await turn->next()).kind != TurnEvent::Kind::end) {
        }
        EXPECT_TRUE(turn->failure().has_value());
        co_return turn->outcome().error_type.value_or("");
    }

    // Runs `work` on the test's io_context, failing the test (rather than hanging it) when it has
    // not finished within kDeadline. Then lets the background work (auto-title) end.
    template <class T>
    std::optional<T> run(asio::awaitable<T> work) {
        std::optional<T> out;
        std::exception_ptr failure;
        bool done = false;
        asio::co_spawn(ctx_, std::move(work), [&](std::exception_ptr e, T value) {
            done = true;
            failure = e;
            if (!e) {
                out.emplace(std::move(value));
            }
        });
        const auto deadline = std::chrono::steady_clock::now() + kDeadline;
        while (!done && std::chrono::steady_clock::now() < deadline) {
            ctx_.restart();  // it stops whenever it runs out of work (waiting on the pool)
            ctx_.run_for(std::chrono::milliseconds(50));
        }
        if (!done) {
            ADD_FAILURE() << "did not finish within " << kDeadline.count() << " s (a hung turn)";
            ctx_.stop();
            return std::nullopt;
        }
        ctx_.restart();
        ctx_.run_for(std::chrono::seconds(2));
        if (failure) {
            std::rethrow_exception(failure);
        }
        return out;
    }

    std::vector<Message> stored_messages() {
        auto page = run(real_->list_messages(conversation_id_, 0, 100));
        return page ? page->value().items : std::vector<Message>{};
    }

    NewMessage hello() {
        NewMessage m;
        m.content = "hello there";
        return m;
    }

    std::filesystem::path dir_;
    async::BlockingPool pool_;
    std::unique_ptr<Store> real_;
    FaultyStore store_;
    llm::ModelRouter router_;
    conversations::ConversationService conversations_;
    MessageService messages_;
    Principal who_;
    std::string conversation_id_;
    // Last: destroyed first, with any coroutine frame still in it, while the services exist.
    asio::io_context ctx_;
};

TEST_F(MessageServiceTest, StoresBothMessagesThroughTheDouble) {
    const auto reply = run(messages_.send(who_, conversation_id_, hello()));
    ASSERT_TRUE(reply.has_value());
    ASSERT_TRUE(reply->has_value()) << reply->error().message;
    EXPECT_EQ((*reply)->role, "assistant");
    EXPECT_EQ((*reply)->status, "complete");
    const auto stored = stored_messages();
    ASSERT_EQ(stored.size(), 2U);
    EXPECT_EQ(stored[0].content, "hello there");
}

TEST_F(MessageServiceTest, AStoreThatThrowsOnTheUserMessageFailsTheTurnWith503) {
    store_.user_fault = Fault::throw_exception;
    const auto reply = run(messages_.send(who_, conversation_id_, hello()));
    ASSERT_TRUE(reply.has_value()) << "the turn must end, not wait for the write forever";
    ASSERT_FALSE(reply->has_value());
    EXPECT_EQ(reply->error().type, ErrorType::overloaded);
    EXPECT_EQ(error_status(reply->error().type), 503);
    EXPECT_NE(reply->error().detail.find("injected"), std::string::npos) << reply->error().detail;
    EXPECT_TRUE(stored_messages().empty()) << "no answer without the user's message";
}

TEST_F(MessageServiceTest, AThrowingUserWriteEndsAStreamedTurnWithAnError) {
    store_.user_fault = Fault::throw_exception;
    const auto outcome = run(stream_to_end());
    ASSERT_TRUE(outcome.has_value());
    EXPECT_EQ(*outcome, "overloaded_error");
}

TEST_F(MessageServiceTest, AUserWriteThatReturnsAnErrorFailsTheTurnWithIt) {
    store_.user_fault = Fault::return_error;
    const auto reply = run(messages_.send(who_, conversation_id_, hello()));
    ASSERT_TRUE(reply.has_value());
    ASSERT_FALSE(reply->has_value());
    EXPECT_EQ(reply->error().type, ErrorType::api);
    EXPECT_TRUE(stored_messages().empty());
}

TEST_F(MessageServiceTest, AStoreThatThrowsOnTheAnswerEndsTheTurnInsteadOfHanging) {
    store_.reply_fault = Fault::throw_exception;
    const auto reply = run(messages_.send(who_, conversation_id_, hello()));
    ASSERT_TRUE(reply.has_value()) << "the turn must end";
    ASSERT_FALSE(reply->has_value());
    EXPECT_EQ(reply->error().type, ErrorType::api);
    const auto stored = stored_messages();
    ASSERT_EQ(stored.size(), 1U);
    EXPECT_EQ(stored[0].role, "user");
}

}  // namespace
}  // namespace parley::messages
