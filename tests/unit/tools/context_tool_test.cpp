// lookup_contextual_data over a fake SessionInfoSource: the turn's own conversation only, whatever
// session id the model passes; the data as JSON; unavailable and failing sources as error results.
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "support/run_awaitable.hpp"
#include "tools/builtins.hpp"

namespace parley::tools {
namespace {

constexpr TimePoint kStart =
    std::chrono::sys_days{std::chrono::July / 1 / 2026} + std::chrono::hours{12};

class FakeSessions final : public SessionInfoSource {
public:
    boost::asio::awaitable<Result<SessionInfo>> session_info(std::string conversation_id) override {
        asked.push_back(conversation_id);
        if (fail) {
            co_return make_error(ErrorType::overloaded, "the database is unavailable", "detail");
        }
        SessionInfo info;
        info.message_count = 7;
        info.tools_used = {{"fetch_internal_knowledge", 2}, {"calculator", 1}};
        for (int i = 0; i < routing; ++i) {
            info.routing.push_back(
                {i % 2 == 0 ? "FAST_CONCISE" : "ANALYTICAL", kStart + std::chrono::minutes(i)}
            );
        }
        info.started_at = kStart;
        co_return info;
    }

    std::vector<std::string> asked;
    bool fail = false;
    int routing = 2;
};

ToolResult lookup(FakeSessions* sessions, const std::string& arguments) {
    const auto tool = make_context_tool();
    const ToolContext ctx{Principal{"user-1", "", kAllScopes}, "conv-42", sessions};
    const auto args = boost::json::parse(arguments).as_object();
    return testing::run_awaitable(tool->run(ctx, args));
}

TEST(ContextToolTest, DescribesTheCurrentSession) {
    FakeSessions sessions;
    const auto r = lookup(&sessions, R"({"session_id": "someone-elses-session"})");
    ASSERT_TRUE(r.ok) << r.content;
    EXPECT_EQ(
        r.content,
        R"({"conversation_id":"conv-42","message_count":7,)"
        R"("tools_used":[{"name":"fetch_internal_knowledge","count":2},{"name":"calculator","count":1}],)"
        R"("routing":[{"strategy":"FAST_CONCISE","at":"2026-07-01T12:00:00.000Z"},)"
        R"({"strategy":"ANALYTICAL","at":"2026-07-01T12:01:00.000Z"}],)"
        R"("routing_decisions":2,"started_at":"2026-07-01T12:00:00.000Z"})"
    );
    // The model's session id never chose what was read.
    EXPECT_EQ(sessions.asked, (std::vector<std::string>{"conv-42"}));
}

TEST(ContextToolTest, SessionIdIsOptional) {
    FakeSessions sessions;
    EXPECT_TRUE(lookup(&sessions, "{}").ok);
}

TEST(ContextToolTest, ListsTheLatestRoutingDecisions) {
    FakeSessions sessions;
    sessions.routing = 25;
    const auto r = lookup(&sessions, "{}");
    ASSERT_TRUE(r.ok);
    const auto body = boost::json::parse(r.content).as_object();
    EXPECT_EQ(body.at("routing_decisions").as_int64(), 25);
    const auto& routing = body.at("routing").as_array();
    ASSERT_EQ(routing.size(), 20U);
    EXPECT_EQ(routing.back().at("at").as_string(), "2026-07-01T12:24:00.000Z");
    EXPECT_EQ(routing.front().at("at").as_string(), "2026-07-01T12:05:00.000Z");
}

TEST(ContextToolTest, Errors) {
    EXPECT_EQ(lookup(nullptr, "{}").content, R"({"error":"session data is not available here"})");
    FakeSessions failing;
    failing.fail = true;
    const auto r = lookup(&failing, "{}");
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(
        r.content, R"({"error":"session data could not be read: the database is unavailable"})"
    );
    EXPECT_EQ(r.content.find("detail"), std::string::npos);
    FakeSessions sessions;
    EXPECT_EQ(
        lookup(&sessions, R"({"session_id": 12})").content,
        R"({"error":"`session_id` must be a string"})"
    );
}

}  // namespace
}  // namespace parley::tools
