// The compatible endpoints' pure parts (request decoding, response and error shapes) and the
// stateless call they run (messages/call) against the mock provider; the SDKs' view of the whole
// is tests/integration/compat.test.mjs.

#include <boost/asio/awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "compat/anthropic.hpp"
#include "compat/errors.hpp"
#include "compat/openai.hpp"
#include "llm/provider.hpp"
#include "messages/call.hpp"
#include "messages/stream_format.hpp"
#include "support/run_awaitable.hpp"

namespace parley::compat {
namespace {

namespace asio = boost::asio;
namespace bj = boost::json;

llm::ModelRouter make_router() {
    std::map<std::string, std::unique_ptr<llm::Provider>, std::less<>> providers;
    providers.emplace("mock", llm::make_mock_provider({std::chrono::milliseconds(0)}));
    llm::RouterOptions options;
    options.default_model = "parley-mock";
    return llm::ModelRouter(llm::Catalog::builtin(), std::move(providers), {}, options);
}

bj::object object(std::string_view text) {
    return bj::parse(text).as_object();
}

class CompatTest : public ::testing::Test {
protected:
    llm::ModelRouter router_ = make_router();
};

TEST_F(CompatTest, ChatRequestDecodesEveryRoleToTheProviderVocabulary) {
    const auto d = decode_chat_request(
        object(R"({"model": "parley-mock", "stream": true,
                   "stream_options": {"include_usage": true},
                   "messages": [
                     {"role": "system", "content": "Be brief."},
                     {"role": "developer", "content": [{"type": "text", "text": "No lists."}]},
                     {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
                     {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                     {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}],
                   "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
                   "temperature": 0.3, "max_completion_tokens": 99, "stop": "END", "user": "u1", "n": 1})"
        ),
        router_
    );
    ASSERT_TRUE(d.has_value()) << d.error().message;
    EXPECT_TRUE(d->stream);
    EXPECT_TRUE(d->include_usage);
    EXPECT_EQ(d->call.model->id, "parley-mock");
    const auto& r = d->call.request;
    EXPECT_EQ(r.system, "Be brief.\n\nNo lists.");
    ASSERT_EQ(r.messages.size(), 3U);
    EXPECT_EQ(r.messages[0].role, "user");
    EXPECT_EQ(r.messages[0].content, "Hi there");
    ASSERT_EQ(r.messages[1].tool_calls.size(), 1U);
    EXPECT_EQ(r.messages[1].tool_calls[0].arguments, R"({"city":"Paris"})");
    EXPECT_EQ(r.messages[2].role, "tool");
    EXPECT_EQ(r.messages[2].tool_call_id, "call_1");
    EXPECT_EQ(r.messages[2].tool_name, "get_weather");
    ASSERT_EQ(r.tools.size(), 1U);
    EXPECT_EQ(r.tools[0].parameters, R"({"type":"object"})");
    EXPECT_EQ(r.max_tokens, 99);
    EXPECT_EQ(r.temperature, 0.3);
    EXPECT_EQ(r.stop, std::vector<std::string>{"END"});
}

TEST_F(CompatTest, ChatRequestRefusalsAreClientErrorsNamingTheProblem) {
    const auto refused = [&](std::string_view body, ErrorType type, std::string_view needle) {
        const auto d = decode_chat_request(object(body), router_);
        ASSERT_FALSE(d.has_value()) << body;
        EXPECT_EQ(d.error().type, type) << body;
        EXPECT_NE(d.error().message.find(needle), std::string::npos) << d.error().message;
    };
    const auto ok_messages = R"("messages": [{"role": "user", "content": "x"}])";
    refused(
        std::string(R"({"model": "parley-mock", "top_p": 1, )") + ok_messages + "}",
        ErrorType::unprocessable,
        "top_p"
    );
    refused(std::string(R"({"model": "nope", )") + ok_messages + "}", ErrorType::not_found, "nope");
    // In the catalog, but its provider has no key here.
    refused(
        std::string(R"({"model": "gpt-4o-mini", )") + ok_messages + "}",
        ErrorType::not_found,
        "gpt-4o-mini"
    );
    refused(R"({"model": "parley-mock", "messages": []})", ErrorType::unprocessable, "messages");
    refused(
        std::string(R"({"model": "parley-mock", "max_tokens": 0, )") + ok_messages + "}",
        ErrorType::unprocessable,
        "max_tokens"
    );
    refused(
        std::string(R"({"model": "parley-mock", "temperature": 2.5, )") + ok_messages + "}",
        ErrorType::unprocessable,
        "temperature"
    );
    refused(
        std::string(R"({"model": "parley-mock", "n": 2, )") + ok_messages + "}",
        ErrorType::unprocessable,
        "n"
    );
    refused(
        std::string(R"({"model": "parley-mock", "tool_choice": "required", )") + ok_messages + "}",
        ErrorType::unprocessable,
        "tool_choice"
    );
    refused(
        std::string(R"({"model": "parley-mock", "stream_options": {"include_usage": true}, )") +
            ok_messages + "}",
        ErrorType::unprocessable,
        "stream_options"
    );
    refused(
        R"({"model": "parley-mock", "messages": [{"role": "tool", "tool_call_id": "x", "content": "r"}]})",
        ErrorType::unprocessable,
        "tool_call_id"
    );
    refused(
        R"({"model": "parley-mock", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
        ErrorType::unprocessable,
        "image_url"
    );
    refused(
        std::string(
            R"({"model": "parley-mock", "tools": [{"type": "function", "function": {"name": "bad name"}}], )"
        ) + ok_messages +
            "}",
        ErrorType::unprocessable,
        "name"
    );
}

TEST_F(CompatTest, ToolChoiceNoneOffersNoTools) {
    const auto d = decode_chat_request(
        object(R"({"model": "parley-mock", "messages": [{"role": "user", "content": "x"}],
                   "tools": [{"type": "function", "function": {"name": "t"}}], "tool_choice": "none"})"
        ),
        router_
    );
    ASSERT_TRUE(d.has_value()) << d.error().message;
    EXPECT_TRUE(d->call.request.tools.empty());
}

TEST_F(CompatTest, MessagesRequestMapsBlocksAndThinking) {
    const auto d = decode_messages_request(
        object(R"({"model": "parley-mock", "max_tokens": 4000,
                   "system": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
                   "thinking": {"type": "enabled", "budget_tokens": 2048},
                   "stop_sequences": ["STOP"],
                   "tools": [{"name": "lookup", "input_schema": {"type": "object"}}],
                   "messages": [
                     {"role": "user", "content": "Look it up"},
                     {"role": "assistant", "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "s"},
                        {"type": "text", "text": "Sure."},
                        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": 1}}]},
                     {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "found"}]},
                        {"type": "text", "text": "Thanks"}]}]})"),
        router_,
        AnthropicBody::message
    );
    ASSERT_TRUE(d.has_value()) << d.error().message;
    const auto& r = d->call.request;
    EXPECT_EQ(r.system, "A\n\nB");
    EXPECT_TRUE(r.thinking);
    EXPECT_EQ(r.thinking_budget, 2048);
    EXPECT_EQ(r.max_tokens, 4000);
    EXPECT_EQ(r.stop, std::vector<std::string>{"STOP"});
    ASSERT_EQ(r.messages.size(), 4U);
    EXPECT_EQ(r.messages[1].role, "assistant");
    EXPECT_EQ(r.messages[1].content, "Sure.");
    ASSERT_EQ(r.messages[1].tool_calls.size(), 1U);
    EXPECT_EQ(r.messages[1].tool_calls[0].arguments, R"({"q":1})");
    EXPECT_EQ(r.messages[2].role, "tool");
    EXPECT_EQ(r.messages[2].content, "found");
    EXPECT_EQ(r.messages[2].tool_name, "lookup");
    EXPECT_EQ(r.messages[3].role, "user");
    EXPECT_EQ(r.messages[3].content, "Thanks");
}

TEST_F(CompatTest, MessagesRequestFieldsDependOnTheRoute) {
    const auto body =
        object(R"({"model": "parley-mock", "messages": [{"role": "user", "content": "x"}]})");
    const auto message = decode_messages_request(body, router_, AnthropicBody::message);
    ASSERT_FALSE(message.has_value());
    EXPECT_NE(message.error().message.find("max_tokens"), std::string::npos);
    EXPECT_TRUE(decode_messages_request(body, router_, AnthropicBody::count_tokens).has_value());

    auto with_max = body;
    with_max["max_tokens"] = 10;
    const auto count = decode_messages_request(with_max, router_, AnthropicBody::count_tokens);
    ASSERT_FALSE(count.has_value());
    EXPECT_EQ(count.error().type, ErrorType::unprocessable);
}

TEST_F(CompatTest, ErrorsTakeEachApisShapeAndA422IsA400) {
    http::Request req(http::Method::post, "/v1/messages", {}, "");
    req.set_request_id("req-1");
    Error limited = make_error(ErrorType::rate_limit, "slow down");
    limited.retry_after_s = 7;

    const auto o = openai_error(make_error(ErrorType::unprocessable, "unknown field `x`"), req);
    EXPECT_EQ(o.status, 400);
    EXPECT_EQ(
        bj::parse(o.body),
        bj::parse(
            R"({"error":{"message":"unknown field `x`","type":"invalid_request_error","param":null,"code":null}})"
        )
    );
    const auto o429 = openai_error(limited, req);
    EXPECT_EQ(o429.status, 429);
    EXPECT_EQ(o429.header("Retry-After"), "7");
    EXPECT_EQ(bj::parse(o429.body).at("error").at("code").as_string(), "rate_limit_exceeded");
    EXPECT_EQ(
        bj::parse(openai_error(make_error(ErrorType::not_found, "m"), req).body)
            .at("error")
            .at("code")
            .as_string(),
        "model_not_found"
    );

    const auto a = anthropic_error(make_error(ErrorType::authentication, "bad key"), req);
    EXPECT_EQ(a.status, 401);
    EXPECT_EQ(
        bj::parse(a.body),
        bj::parse(
            R"({"type":"error","error":{"type":"authentication_error","message":"bad key"},"request_id":"req-1"})"
        )
    );
    EXPECT_EQ(a.header("request-id"), "req-1");
    EXPECT_EQ(anthropic_error(limited, req).header("Retry-After"), "7");

    http::Request anthropic_sdk(
        http::Method::get, "/v1/models", {{"anthropic-version", "2023-06-01"}}, ""
    );
    EXPECT_EQ(bj::parse(either_error(limited, anthropic_sdk).body).at("type").as_string(), "error");
    EXPECT_TRUE(bj::parse(either_error(limited, req).body).as_object().contains("error"));
}

TEST_F(CompatTest, AStatelessCallRunsThroughTheRouterAndReportsItsAccountOnce) {
    const auto d = decode_chat_request(
        object(
            R"({"model": "parley-mock", "messages": [{"role": "user", "content": "hello big world"}]})"
        ),
        router_
    );
    ASSERT_TRUE(d.has_value());
    auto call = d->call;
    call.id = "call-1";
    int ended = 0;
    store::Message account;
    messages::CallEnded on_end = [&](store::Message reply) -> asio::awaitable<void> {
        ++ended;
        account = std::move(reply);
        co_return;
    };
    const auto [text, reply] = testing::run_awaitable(
        [](llm::ModelRouter& router, messages::CallRequest c, messages::CallEnded e
        ) -> asio::awaitable<std::pair<std::string, store::Message>> {
            auto turn = co_await messages::start_call(router, std::move(c), std::move(e));
            EXPECT_EQ(turn->start().message_id, "call-1");
            EXPECT_GT(turn->start().input_tokens, 0);
            std::string out;
            for (;;) {
                auto ev = co_await turn->next();
                if (ev.kind == messages::TurnEvent::Kind::end) {
                    break;
                }
                if (ev.kind == messages::TurnEvent::Kind::text) {
                    out += ev.text;
                }
            }
            EXPECT_FALSE(turn->failure().has_value());
            co_return std::pair{out, turn->outcome().reply};
        }(router_, call, on_end)
    );
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(ended, 1);
    EXPECT_EQ(reply.content, text);
    EXPECT_EQ(reply.status, "complete");
    EXPECT_EQ(reply.finish_reason, "stop");
    EXPECT_EQ(reply.model, "parley-mock");
    EXPECT_EQ(reply.provider, "mock");
    EXPECT_GT(reply.output_tokens, 0);
    EXPECT_EQ(account.output_tokens, reply.output_tokens);
    EXPECT_EQ(account.input_tokens, reply.input_tokens);

    const auto chat = chat_completion_json("call-1", 5, "parley-mock", {text, "", {}, reply});
    EXPECT_EQ(chat.at("id").as_string(), "chatcmpl-call-1");
    EXPECT_EQ(chat.at("choices").as_array()[0].at("message").at("content").as_string(), text);
    const auto message = message_json("msg_1", "parley-mock", {text, "", {}, reply});
    EXPECT_EQ(message.at("stop_reason").as_string(), "end_turn");
    EXPECT_EQ(message.at("content").as_array()[0].at("text").as_string(), text);
}

TEST_F(CompatTest, TheOpenAiStreamLeavesTheUsageChunkOutUnlessAsked) {
    messages::StreamStart start;
    start.message_id = "m";
    messages::StreamEnd end;
    end.reply.finish_reason = "stop";
    end.reply.input_tokens = 3;
    const auto without = messages::make_openai_encoder(false);
    without->start(start);
    const auto tail = without->finish(end);
    EXPECT_EQ(tail.find("\"usage\":{"), std::string::npos) << tail;
    EXPECT_NE(tail.find("data: [DONE]"), std::string::npos);
    const auto with = messages::make_openai_encoder(true);
    with->start(start);
    EXPECT_NE(with->finish(end).find("\"prompt_tokens\":3"), std::string::npos);
}

}  // namespace
}  // namespace parley::compat
