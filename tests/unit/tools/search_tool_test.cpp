// search_conversations against a real SQLite store: the caller's own messages only, at most five,
// best first, with plain-text snippets (the store's match markers removed); argument and caller
// errors as error results.
#include <chrono>
#include <set>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "async/blocking_pool.hpp"
#include "common/ids.hpp"
#include "store/store.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"
#include "tools/builtins.hpp"
#include "tools/registry.hpp"

namespace parley::tools {
namespace {

using testing::run_awaitable;

constexpr TimePoint kBase =
    std::chrono::sys_days{std::chrono::November / 25 / 2026} + std::chrono::hours{12};

class SearchToolTest : public ::testing::Test {
protected:
    void SetUp() override {
        db_ = std::make_unique<testing::TestDatabase>(testing::Backend::sqlite);
        store_ = db_->open(pool_);
        ASSERT_NE(store_, nullptr);
        const auto migrated = store_->migrate();
        ASSERT_TRUE(migrated.has_value()) << migrated.error().detail;
        tool_ = make_search_tool(*store_);
    }

    std::string make_user() {
        store::User u{new_uuid_v7(), new_uuid_v7() + "@example.com", "hash", kBase};
        EXPECT_TRUE(run_awaitable(store_->create_user(u)).has_value());
        return u.id;
    }

    store::Conversation conversation(const std::string& user, std::optional<std::string> title) {
        store::Conversation c;
        c.id = new_uuid_v7();
        c.user_id = user;
        c.title = std::move(title);
        c.model = "mock";
        c.created_at = kBase + std::chrono::seconds(++tick_);
        c.updated_at = c.created_at;
        EXPECT_TRUE(run_awaitable(store_->create_conversation(c)).has_value());
        return c;
    }

    store::Message say(const store::Conversation& c, std::string role, std::string content) {
        store::Message m;
        m.id = new_uuid_v7();
        m.conversation_id = c.id;
        m.role = std::move(role);
        m.content = std::move(content);
        m.created_at = kBase + std::chrono::seconds(++tick_);
        EXPECT_TRUE(run_awaitable(store_->insert_message(m)).has_value());
        return m;
    }

    ToolResult search(const std::string& user, const std::string& arguments) {
        const ToolContext ctx{Principal{user, "", kAllScopes}, "current", nullptr};
        const auto args = boost::json::parse(arguments).as_object();
        return run_awaitable(tool_->run(ctx, args));
    }

    async::BlockingPool pool_{2};
    std::unique_ptr<testing::TestDatabase> db_;
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<Tool> tool_;
    int tick_ = 0;
};

TEST_F(SearchToolTest, FindsTheCallersMessages) {
    const auto me = make_user();
    const auto other = make_user();
    const auto mine = conversation(me, "Trip planning");
    const auto untitled = conversation(me, std::nullopt);
    const auto theirs = conversation(other, "Their secrets");
    say(mine, "user", "Which trains go from Paris to Lyon in the morning?");
    say(mine, "assistant", "Several high-speed trains leave Paris for Lyon before noon.");
    say(untitled, "user", "nothing about the journey here");
    say(theirs, "user", "my secret trains to Lyon");

    const auto r = search(me, R"({"query": "trains Lyon"})");
    ASSERT_TRUE(r.ok) << r.content;
    const auto body = boost::json::parse(r.content).as_object();
    EXPECT_EQ(body.at("query").as_string(), "trains Lyon");
    const auto& results = body.at("results").as_array();
    ASSERT_EQ(results.size(), 2U);
    for (const auto& v : results) {
        const auto& hit = v.as_object();
        EXPECT_EQ(hit.at("conversation_id").as_string(), mine.id);
        EXPECT_EQ(hit.at("conversation_title").as_string(), "Trip planning");
        const auto snippet = std::string(hit.at("snippet").as_string());
        EXPECT_EQ(snippet.find('\x01'), std::string::npos) << snippet;
        EXPECT_EQ(snippet.find('\x02'), std::string::npos) << snippet;
        EXPECT_NE(snippet.find("Lyon"), std::string::npos) << snippet;
        EXPECT_TRUE(parse_iso8601(hit.at("created_at").as_string()).has_value());
    }
    std::set<std::string> roles;
    for (const auto& v : results) {
        roles.insert(std::string(v.at("role").as_string()));
    }
    EXPECT_EQ(roles, (std::set<std::string>{"user", "assistant"}));
    EXPECT_EQ(r.content.find("secret"), std::string::npos);
}

TEST_F(SearchToolTest, UntitledConversationAndNoHits) {
    const auto me = make_user();
    const auto c = conversation(me, std::nullopt);
    say(c, "user", "a note about kayaks");
    const auto r = search(me, R"({"query": "kayak"})");
    ASSERT_TRUE(r.ok) << r.content;
    const auto body = boost::json::parse(r.content).as_object();
    ASSERT_EQ(body.at("results").as_array().size(), 1U);
    EXPECT_TRUE(body.at("results").as_array()[0].at("conversation_title").is_null());

    const auto none = search(me, R"({"query": "submarine"})");
    ASSERT_TRUE(none.ok);
    EXPECT_EQ(none.content, R"({"query":"submarine","results":[]})");
}

TEST_F(SearchToolTest, AtMostFiveBestFirst) {
    const auto me = make_user();
    const auto c = conversation(me, "Many");
    for (int i = 0; i < 8; ++i) {
        say(c, "user", "ordinary message about apples number " + std::to_string(i));
    }
    say(c, "assistant", "apples apples apples: apples everywhere");
    const auto r = search(me, R"({"query": "apples"})");
    ASSERT_TRUE(r.ok);
    const auto body = boost::json::parse(r.content).as_object();
    const auto& results = body.at("results").as_array();
    ASSERT_EQ(results.size(), static_cast<std::size_t>(kSearchToolHits));
    EXPECT_EQ(results[0].at("role").as_string(), "assistant");
    EXPECT_NE(
        std::string(results[0].at("snippet").as_string()).find("apples everywhere"),
        std::string::npos
    );
}

TEST_F(SearchToolTest, ThroughTheBuiltinRegistry) {
    BuiltinOptions options;
    options.store = store_.get();
    const auto registry = make_builtin_registry(std::move(options));
    EXPECT_NE(registry.find(kSearchTool), nullptr);
    EXPECT_EQ(registry.names().size(), 5U);

    const auto me = make_user();
    const auto c = conversation(me, "Garden");
    say(c, "user", "when should tomatoes be planted");
    const ToolContext ctx{Principal{me, "", kAllScopes}, c.id, nullptr};
    const llm::ToolCall call{"call_1", "search_conversations", R"({"query":"tomatoes"})", {}};
    const auto r = run_awaitable(registry.run(call, ctx, std::chrono::seconds(10)));
    ASSERT_TRUE(r.ok) << r.content;
    EXPECT_NE(r.content.find("\"conversation_title\":\"Garden\""), std::string::npos) << r.content;
}

TEST_F(SearchToolTest, Errors) {
    const auto me = make_user();
    EXPECT_EQ(search(me, "{}").content, R"({"error":"`query` is required"})");
    EXPECT_EQ(search(me, R"({"query": 1})").content, R"({"error":"`query` must be a string"})");
    const auto exclusions = search(me, R"({"query": "-apples"})");
    EXPECT_FALSE(exclusions.ok);
    EXPECT_NE(exclusions.content.find("no word to search for"), std::string::npos);
    const auto anonymous = search("", R"({"query": "apples"})");
    EXPECT_FALSE(anonymous.ok);
    EXPECT_EQ(anonymous.content, R"({"error":"searching conversations needs a signed-in user"})");
}

}  // namespace
}  // namespace parley::tools
