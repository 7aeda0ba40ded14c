#include "llm/anthropic_codec.hpp"

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include "unit/llm/codec_test_support.hpp"

namespace parley::llm {
namespace {

namespace bj = boost::json;

using testing::feed;
using testing::Lines;
using testing::render;
using testing::split_sse;
using testing::SseEvent;

ChatRequest sample_request() {
    ChatRequest r;
    r.model = "claude-sonnet-4-5";
    r.system = "Be brief.";
    r.messages = {{"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Weather?"}};
    r.max_tokens = 1024;
    r.temperature = 0.3;
    return r;
}

// --- request ------------------------------------------------------------------------------------

TEST(AnthropicCodecTest, RequestPutsSystemAtTopLevel) {
    const bj::object body = bj::parse(build_anthropic_request(sample_request(), true)).as_object();
    EXPECT_EQ(body.at("model"), "claude-sonnet-4-5");
    EXPECT_EQ(body.at("max_tokens"), 1024);
    EXPECT_EQ(body.at("system"), "Be brief.");
    EXPECT_EQ(body.at("stream"), true);
    EXPECT_DOUBLE_EQ(body.at("temperature").to_number<double>(), 0.3);
    EXPECT_FALSE(body.contains("thinking"));
    const bj::array& messages = body.at("messages").as_array();
    ASSERT_EQ(messages.size(), 3U);
    EXPECT_EQ(messages[0], (bj::object{{"role", "user"}, {"content", "Hi"}}));
    EXPECT_EQ(messages[1], (bj::object{{"role", "assistant"}, {"content", "Hello!"}}));
    EXPECT_EQ(messages[2], (bj::object{{"role", "user"}, {"content", "Weather?"}}));
}

TEST(AnthropicCodecTest, RequestOmitsEmptySystemAndUnsetTemperature) {
    ChatRequest r = sample_request();
    r.system.clear();
    r.temperature.reset();
    const bj::object body = bj::parse(build_anthropic_request(r, false)).as_object();
    EXPECT_FALSE(body.contains("system"));
    EXPECT_FALSE(body.contains("temperature"));
    EXPECT_EQ(body.at("stream"), false);
}

TEST(AnthropicCodecTest, ThinkingDropsTemperatureAndRaisesMaxTokens) {
    ChatRequest r = sample_request();
    r.thinking = true;
    r.thinking_budget = 2000;
    const bj::object body = bj::parse(build_anthropic_request(r, true)).as_object();
    EXPECT_FALSE(body.contains("temperature"));
    EXPECT_EQ(body.at("thinking"), (bj::object{{"type", "enabled"}, {"budget_tokens", 2000}}));
    // 1024 ≤ 2000: raised to budget + max_tokens so the answer still has room.
    EXPECT_EQ(body.at("max_tokens"), 3024);
}

TEST(AnthropicCodecTest, ThinkingBudgetIsAtLeast1024AndBelowMaxTokens) {
    ChatRequest r = sample_request();
    r.thinking = true;
    r.thinking_budget = 100;
    r.max_tokens = 8000;
    const bj::object body = bj::parse(build_anthropic_request(r, true)).as_object();
    EXPECT_EQ(body.at("thinking").at("budget_tokens"), 1024);
    EXPECT_EQ(body.at("max_tokens"), 8000);  // already above the budget: unchanged

    r.max_tokens = 1024;  // equal is not enough: budget_tokens must be < max_tokens
    const bj::object equal = bj::parse(build_anthropic_request(r, true)).as_object();
    EXPECT_EQ(equal.at("max_tokens"), 2048);
}

// --- streams from wire-formats.md ---------------------------------------------------------------

// §1.2's examples in §1.1's order (A-SDK fixture basic_response.txt).
constexpr std::string_view kBasicStream = R"sse(event: message_start
data: {"type":"message_start","message":{"id":"msg_4QpJ...","type":"message","role":"assistant","content":[],"model":"claude-opus-4-8","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":6}}

event: message_stop
data: {"type":"message_stop"}

)sse";

TEST(AnthropicCodecTest, DecodesTheDocBasicStream) {
    AnthropicStreamDecoder decoder;
    const auto events = feed(decoder, kBasicStream);
    EXPECT_EQ(render(events), (Lines{"text:Hello", "usage:11/6", "stop:stop"}));
    EXPECT_TRUE(decoder.done());
}

TEST(AnthropicCodecTest, DoneOnlyAtMessageStop) {
    AnthropicStreamDecoder decoder;
    const auto events = split_sse(kBasicStream);
    ASSERT_EQ(events.size(), 7U);
    for (std::size_t i = 0; i + 1 < events.size(); ++i) {
        decoder.decode(events[i].event, events[i].data);
        EXPECT_FALSE(decoder.done()) << events[i].event;
    }
    EXPECT_EQ(render(decoder.decode(events[6].event, events[6].data)), (Lines{"stop:stop"}));
    EXPECT_TRUE(decoder.done());
    EXPECT_TRUE(decoder.decode(events[3].event, events[3].data).empty());
}

constexpr std::string_view kThinkingStream = R"sse(event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":40,"output_tokens":3}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Simple educ"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"ational question."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"c3ludGhl..."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Paris."}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":120}}

event: message_stop
data: {"type":"message_stop"}

)sse";

TEST(AnthropicCodecTest, DecodesThinkingBlocks) {
    AnthropicStreamDecoder decoder;
    EXPECT_EQ(
        render(feed(decoder, kThinkingStream)),
        (Lines{
            "think:Simple educ",
            "think:ational question.",
            "text:Paris.",
            "usage:40/120",
            "stop:length",
        })
    );
}

// §1.3 (A-SDK fixture tool_use_response.txt), written out.
constexpr std::string_view kToolStream = R"sse(event: message_start
data: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","content":[],"model":"claude-opus-4-8","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":380,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me check "}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"the weather."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01NR","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"locati"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"on\": \"P"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ar"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":65}}

event: message_stop
data: {"type":"message_stop"}

)sse";

TEST(AnthropicCodecTest, DecodesTheDocToolUseStream) {
    AnthropicStreamDecoder decoder;
    const auto events = feed(decoder, kToolStream);
    EXPECT_EQ(
        render(events),
        (Lines{
            "text:Let me check ",
            "text:the weather.",
            R"(tool:toolu_01NR get_weather {"location":"Paris"})",
            "usage:380/65",
            "stop:tool_use",
        })
    );
    EXPECT_FALSE(events[2].tool_call.invalid_arguments);
}

TEST(AnthropicCodecTest, TheToolCallComesAtItsBlockStop) {
    AnthropicStreamDecoder decoder;
    const auto events = split_sse(kToolStream);
    std::size_t tool_at = events.size();
    for (std::size_t i = 0; i < events.size(); ++i) {
        for (const StreamEvent& e : decoder.decode(events[i].event, events[i].data)) {
            if (e.kind == StreamEvent::Kind::tool_call) {
                EXPECT_EQ(tool_at, events.size()) << "only one tool_call";
                tool_at = i;
            }
        }
    }
    ASSERT_LT(tool_at, events.size());
    EXPECT_EQ(events[tool_at].event, "content_block_stop");
    EXPECT_EQ(events[tool_at].data, R"({"type":"content_block_stop","index":1})");
}

std::string message_delta(std::string_view stop_reason, std::string_view usage) {
    return R"({"type":"message_delta","delta":{"stop_reason":)" + std::string(stop_reason) +
           R"(,"stop_sequence":null},"usage":)" + std::string(usage) + "}";
}

TEST(AnthropicCodecTest, MapsEveryStopReason) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"end_turn", "stop"},
        {"stop_sequence", "stop"},
        {"pause_turn", "stop"},
        {"max_tokens", "length"},
        {"model_context_window_exceeded", "length"},
        {"tool_use", "tool_use"},
        {"refusal", "content_filter"},
        {"brand_new_reason", "stop"},
    };
    for (const auto& [wire, expected] : cases) {
        AnthropicStreamDecoder decoder;
        decoder.decode("message_start", R"({"type":"message_start","message":{"usage":{}}})");
        EXPECT_EQ(
            render(decoder.decode(
                "message_delta", message_delta("\"" + wire + "\"", R"({"output_tokens":2})")
            )),
            (Lines{"usage:0/2"})
        );
        EXPECT_EQ(
            render(decoder.decode("message_stop", R"({"type":"message_stop"})")),
            (Lines{"stop:" + expected})
        ) << wire;
    }
}

TEST(AnthropicCodecTest, UsageIsCumulativeAndMessageDeltaMayRestateInput) {
    AnthropicStreamDecoder decoder;
    decoder.decode(
        "message_start",
        R"({"type":"message_start","message":{"usage":{"input_tokens":11,"output_tokens":1}}})"
    );
    EXPECT_EQ(
        render(decoder.decode("message_delta", message_delta("null", R"({"output_tokens":4})"))),
        (Lines{"usage:11/4"})
    );
    EXPECT_EQ(
        render(decoder.decode(
            "message_delta",
            message_delta("\"end_turn\"", R"({"input_tokens":12,"output_tokens":9})")
        )),
        (Lines{"usage:12/9"})
    );
    EXPECT_EQ(render(decoder.decode("message_stop", "{}")), (Lines{"stop:stop"}));
}

TEST(AnthropicCodecTest, DispatchesOnDataTypeWithoutEventNames) {
    AnthropicStreamDecoder decoder;
    std::vector<StreamEvent> events;
    for (const SseEvent& e : split_sse(kBasicStream)) {
        const auto more = decoder.decode("", e.data);
        events.insert(events.end(), more.begin(), more.end());
    }
    EXPECT_EQ(render(events), (Lines{"text:Hello", "usage:11/6", "stop:stop"}));
}

TEST(AnthropicCodecTest, IgnoresUnknownEventsAndFields) {
    AnthropicStreamDecoder decoder;
    EXPECT_TRUE(decoder.decode("ping", R"({"type": "ping"})").empty());
    EXPECT_TRUE(decoder.decode("brand_new_event", "not even json").empty());
    EXPECT_TRUE(decoder.decode("", R"({"type":"brand_new_event","x":1})").empty());
    EXPECT_TRUE(
        decoder
            .decode(
                "content_block_delta",
                R"({"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}})"
            )
            .empty()
    );
    EXPECT_EQ(
        render(decoder.decode(
            "content_block_delta",
            R"({"type":"content_block_delta","index":0,"new":true,"delta":{"type":"text_delta","text":"ok","extra":1}})"
        )),
        (Lines{"text:ok"})
    );
    EXPECT_FALSE(decoder.done());
}

// --- errors in the stream -----------------------------------------------------------------------

TEST(AnthropicCodecTest, MidStreamErrorEvent) {
    AnthropicStreamDecoder decoder;
    const auto split = split_sse(kBasicStream);
    for (std::size_t i = 0; i < 4; ++i) {
        decoder.decode(split[i].event, split[i].data);
    }
    // §1.2, verbatim.
    const auto events = feed(decoder, R"sse(event: error
data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}

)sse");
    ASSERT_EQ(render(events), (Lines{"error:overloaded"}));
    EXPECT_EQ(events[0].text, "Overloaded");
    EXPECT_EQ(events[0].http_status, 0);
    EXPECT_TRUE(decoder.done());
    for (std::size_t i = 4; i < split.size(); ++i) {
        EXPECT_TRUE(decoder.decode(split[i].event, split[i].data).empty());
    }
}

TEST(AnthropicCodecTest, MapsEveryErrorType) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"overloaded_error", "overloaded"},
        {"rate_limit_error", "rate_limit"},
        {"api_error", "server"},
        {"invalid_request_error", "invalid_request"},
        {"authentication_error", "authentication"},
        {"permission_error", "authentication"},
        {"billing_error", "authentication"},
        {"not_found_error", "invalid_request"},
        {"request_too_large", "invalid_request"},
        {"timeout_error", "timeout"},
        {"something_else", "server"},
    };
    for (const auto& [type, kind] : cases) {
        AnthropicStreamDecoder decoder;
        const auto events = decoder.decode(
            "error", R"({"type":"error","error":{"type":")" + type + R"(","message":"m"}})"
        );
        EXPECT_EQ(render(events), (Lines{"error:" + kind})) << type;
    }
    AnthropicStreamDecoder bare;
    EXPECT_EQ(render(bare.decode("error", R"({"type":"error"})")), (Lines{"error:server"}));
}

TEST(AnthropicCodecTest, MalformedDataGivesExactlyOneFailure) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"content_block_delta",
         R"({"type":"content_block_delta","index":0,"delta":{"type":"text_de)"},
        {"content_block_delta", "[]"},
        {"content_block_delta", R"({"type":"content_block_delta","index":0})"},
        {"content_block_delta", R"({"type":"content_block_delta","delta":{"text":"no type"}})"},
        {"content_block_delta",
         R"({"type":"content_block_delta","delta":{"type":"text_delta","text":5}})"},
        {"content_block_delta",
         R"({"type":"content_block_delta","delta":{"type":"thinking_delta"}})"},
        {"content_block_start",
         R"({"type":"content_block_start","content_block":{"type":"text"}})"},
        {"message_start", R"({"type":"message_start"})"},
        {"message_start", R"({"type":"message_start","message":{"usage":{"input_tokens":"11"}}})"},
        {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":1},"usage":{}})"},
        {"message_delta", R"({"type":"message_delta","usage":[1]})"},
        {"message_stop", "not json"},
        {"error", "<html>"},
        {"", "{"},
    };
    for (const auto& [name, data] : bad) {
        AnthropicStreamDecoder decoder;
        std::vector<StreamEvent> events = decoder.decode(name, data);
        const auto rest = feed(decoder, kBasicStream);
        events.insert(events.end(), rest.begin(), rest.end());
        ASSERT_EQ(render(events), (Lines{"error:malformed"})) << name << " " << data;
        EXPECT_FALSE(events[0].text.empty());
        EXPECT_TRUE(decoder.done());
    }
}

TEST(AnthropicCodecTest, FinishAtConnectionClose) {
    AnthropicStreamDecoder without_stop;
    const auto split = split_sse(kBasicStream);
    for (std::size_t i = 0; i + 1 < split.size(); ++i) {
        without_stop.decode(split[i].event, split[i].data);
    }
    EXPECT_EQ(render(without_stop.finish()), (Lines{"stop:stop"}));
    EXPECT_TRUE(without_stop.finish().empty());

    AnthropicStreamDecoder cut;
    cut.decode(split[0].event, split[0].data);
    EXPECT_EQ(render(cut.finish()), (Lines{"error:connection"}));
    EXPECT_TRUE(cut.done());

    AnthropicStreamDecoder complete;
    feed(complete, kBasicStream);
    EXPECT_TRUE(complete.finish().empty());
}

// --- non-streaming ------------------------------------------------------------------------------

TEST(AnthropicCodecTest, DecodesACompleteMessage) {
    const auto events = decode_anthropic_response(
        R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
            "content":[{"type":"thinking","thinking":"Let me think.","signature":"sig"},
                       {"type":"redacted_thinking","data":"xyz"},
                       {"type":"text","text":"Hello!"},
                       {"type":"tool_use","id":"toolu_1","name":"f","input":{}}],
            "stop_reason":"end_turn","stop_sequence":null,
            "usage":{"input_tokens":12,"output_tokens":30,"cache_read_input_tokens":0}})"
    );
    ASSERT_TRUE(events.has_value());
    EXPECT_EQ(
        render(*events),
        (Lines{
            "think:Let me think.", "text:Hello!", "tool:toolu_1 f {}", "usage:12/30", "stop:stop"})
    );
}

TEST(AnthropicCodecTest, ResponseStopReasons) {
    const auto events = decode_anthropic_response(
        R"({"type":"message","content":[{"type":"text","text":"I can't"}],"stop_reason":"refusal"})"
    );
    ASSERT_TRUE(events.has_value());
    EXPECT_EQ(render(*events), (Lines{"text:I can't", "stop:content_filter"}));
}

TEST(AnthropicCodecTest, ResponseThatIsAnErrorIsAFailureEvent) {
    const auto events = decode_anthropic_response(
        R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"})"
    );
    ASSERT_TRUE(events.has_value());
    ASSERT_EQ(render(*events), (Lines{"error:overloaded"}));
    EXPECT_EQ((*events)[0].text, "Overloaded");
}

TEST(AnthropicCodecTest, MalformedResponseIsAnUpstreamError) {
    for (const char* body :
         {"",
          "nope",
          "[]",
          R"({"type":"message"})",
          R"({"content":"text"})",
          R"({"content":[1]})",
          R"({"content":[{"type":"text"}]})",
          R"({"content":[],"usage":{"output_tokens":"x"}})"}) {
        const auto events = decode_anthropic_response(body);
        ASSERT_FALSE(events.has_value()) << body;
        EXPECT_EQ(events.error().type, ErrorType::upstream) << body;
    }
}

// --- HTTP errors --------------------------------------------------------------------------------

TEST(AnthropicCodecTest, HttpErrors) {
    struct Case {
        int status;
        std::string body;
        UpstreamError kind;
        std::string message;
    };

    const std::vector<Case> cases = {
        {400,
         R"({"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"},"request_id":"req_011"})",
         UpstreamError::invalid_request,
         "max_tokens: Field required"},
        {401,
         R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_012"})",
         UpstreamError::authentication,
         "invalid x-api-key"},
        {402,
         R"({"type":"error","error":{"type":"billing_error","message":"Your credit balance is too low"}})",
         UpstreamError::authentication,
         "Your credit balance is too low"},
        {403,
         R"({"type":"error","error":{"type":"permission_error","message":"no access"}})",
         UpstreamError::authentication,
         "no access"},
        {429,
         R"({"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}})",
         UpstreamError::rate_limit,
         "Number of request tokens has exceeded your per-minute rate limit"},
        {500,
         R"({"type":"error","error":{"type":"api_error","message":"Internal server error"}})",
         UpstreamError::server,
         "Internal server error"},
        {503, "Service Unavailable", UpstreamError::overloaded, "upstream returned HTTP 503"},
        {529,
         R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
         UpstreamError::overloaded,
         "Overloaded"},
        // A 500 that says it is an overload is treated as one.
        {500,
         R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
         UpstreamError::overloaded,
         "Overloaded"},
        {502,
         "<html>\r\n<head><title>502 Bad "
         "Gateway</title></head>\r\n<body>cloudflare</body>\r\n</html>",
         UpstreamError::server,
         "upstream returned HTTP 502"},
    };
    for (const Case& c : cases) {
        const std::optional<std::chrono::seconds> retry =
            c.status == 429 || c.status == 529 ? std::optional(std::chrono::seconds(30))
                                               : std::nullopt;
        const StreamEvent e = decode_anthropic_error(c.status, c.body, retry);
        EXPECT_EQ(e.kind, StreamEvent::Kind::error);
        EXPECT_EQ(upstream_error_name(e.error), upstream_error_name(c.kind)) << c.body;
        EXPECT_EQ(e.text, c.message);
        EXPECT_EQ(e.http_status, c.status);
        EXPECT_EQ(e.retry_after, retry);
    }
}

// --- tool calling -------------------------------------------------------------------------------

ChatRequest tool_request() {
    ChatRequest r;
    r.model = "claude-sonnet-4-5";
    r.system = "Use tools.";
    r.max_tokens = 1024;
    r.tools = {
        {"get_weather",
         "Current weather in a city",
         R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"},
        {"current_time", "", "not a schema"},
    };
    ToolCall paris{"toolu_1", "get_weather", R"({"city":"Paris"})", std::nullopt};
    ToolCall rome{"toolu_2", "get_weather", R"({"city":"Rome"})", std::nullopt};
    r.messages = {
        {"user", "Weather in Paris and Rome?"},
        {"assistant", "Let me check.", {paris, rome}},
        {"tool", R"({"temp_c":18})", {}, "toolu_1", "get_weather"},
        {"tool", "sunny, 24 C", {}, "toolu_2", "get_weather"},
        {"assistant", "Paris 18, Rome 24."},
        {"user", "Time?"},
        {"assistant", "", {{"toolu_3", "current_time", "", std::nullopt}}},
        {"tool", "", {}, "toolu_3", "current_time"},
    };
    return r;
}

TEST(AnthropicCodecTest, RequestEncodesToolsAndToolHistoryGolden) {
    const bj::value expected = bj::parse(R"({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": "Use tools.",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                 "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather",
                 "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "{\"temp_c\":18}"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "sunny, 24 C"}]},
            {"role": "assistant", "content": "Paris 18, Rome 24."},
            {"role": "user", "content": "Time?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_3", "name": "current_time", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_3"}]}
        ],
        "tools": [
            {"name": "get_weather", "description": "Current weather in a city",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                              "required": ["city"]}},
            {"name": "current_time", "input_schema": {"type": "object", "properties": {}}}
        ],
        "stream": true,
        "temperature": 0.3
    })");
    ChatRequest r = tool_request();
    r.temperature = 0.3;
    EXPECT_EQ(bj::parse(build_anthropic_request(r, true)), expected)
        << build_anthropic_request(r, true);
}

TEST(AnthropicCodecTest, AUserMessageAfterToolResultsJoinsTheirTurn) {
    // A turn stopped after its tool results (round limit), then the user wrote again.
    ChatRequest r = tool_request();
    r.messages.resize(4);
    r.messages.push_back({"user", "Never mind."});
    const bj::array messages =
        bj::parse(build_anthropic_request(r, false)).as_object().at("messages").as_array();
    ASSERT_EQ(messages.size(), 3U);
    const bj::array& last = messages[2].at("content").as_array();
    ASSERT_EQ(last.size(), 3U);
    EXPECT_EQ(last[0].at("type"), "tool_result");
    EXPECT_EQ(last[1].at("type"), "tool_result");
    EXPECT_EQ(last[2], (bj::object{{"type", "text"}, {"text", "Never mind."}}));
}

TEST(AnthropicCodecTest, AFailedToolResultIsMarkedIsError) {
    // The model must be told a result is an error (a tool that failed, timed out or was not
    // offered), not read the error text as the tool's answer.
    ChatRequest r = tool_request();
    r.messages.resize(4);
    r.messages[3].tool_error = true;
    const bj::array messages =
        bj::parse(build_anthropic_request(r, false)).as_object().at("messages").as_array();
    const bj::array& results = messages[2].at("content").as_array();
    ASSERT_EQ(results.size(), 2U);
    EXPECT_FALSE(results[0].as_object().contains("is_error"));
    EXPECT_EQ(results[1].at("is_error"), true);
}

TEST(AnthropicCodecTest, NoToolsFieldWithoutTools) {
    EXPECT_FALSE(
        bj::parse(build_anthropic_request(sample_request(), true)).as_object().contains("tools")
    );
}

TEST(AnthropicCodecTest, ThinkingIsLeftOffInsideAToolLoopOnly) {
    ChatRequest r = tool_request();
    r.thinking = true;
    r.temperature = 0.3;
    // The model called a tool after the last user message: the loop's thinking blocks (which
    // Parley does not keep) would be required, so no thinking; temperature is allowed again.
    const bj::object in_loop = bj::parse(build_anthropic_request(r, true)).as_object();
    EXPECT_FALSE(in_loop.contains("thinking"));
    EXPECT_EQ(in_loop.at("max_tokens"), 1024);
    EXPECT_TRUE(in_loop.contains("temperature"));

    // A turn stopped at its round limit, then the user wrote: the message joins the results' turn,
    // so the loop is still open for the API.
    ChatRequest stopped = r;
    stopped.messages.push_back({"user", "Go on"});
    EXPECT_FALSE(bj::parse(build_anthropic_request(stopped, true)).as_object().contains("thinking")
    );

    r.messages.push_back({"assistant", "It is noon."});
    r.messages.push_back({"user", "Thanks"});
    const bj::object next_turn = bj::parse(build_anthropic_request(r, true)).as_object();
    EXPECT_EQ(next_turn.at("thinking"), (bj::object{{"type", "enabled"}, {"budget_tokens", 1024}}));
    EXPECT_FALSE(next_turn.contains("temperature"));
}

// Thinking, then two tool_use blocks whose input arrives in many fragments, the second one
// invalid JSON (a model can send that), then a server tool block that is not ours.
constexpr std::string_view kTwoToolsStream = R"sse(event: message_start
data: {"type":"message_start","message":{"id":"msg_3","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":500,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Two cities."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"c2ln"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_A","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"ci"}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ty\": \"Pa"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ris\", \"days\": [1, "}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"2]}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_B","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\": Rome}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: content_block_start
data: {"type":"content_block_start","index":3,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"x\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":3}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":91}}

event: message_stop
data: {"type":"message_stop"}

)sse";

TEST(AnthropicCodecTest, TwoToolUseBlocksSplitOverManyDeltasAndOneInvalid) {
    AnthropicStreamDecoder decoder;
    const auto events = feed(decoder, kTwoToolsStream);
    EXPECT_EQ(
        render(events),
        (Lines{
            "think:Two cities.",
            R"(tool:toolu_A get_weather {"city":"Paris","days":[1,2]})",
            "tool:toolu_B get_weather {}",
            "usage:500/91",
            "stop:tool_use",
        })
    );
    EXPECT_FALSE(events[1].tool_call.invalid_arguments);
    ASSERT_TRUE(events[2].tool_call.invalid_arguments);
    EXPECT_NE(events[2].tool_call.invalid_arguments->find("not valid JSON"), std::string::npos);
}

TEST(AnthropicCodecTest, AToolBlockLeftOpenCompletesAtMessageStop) {
    AnthropicStreamDecoder decoder;
    std::vector<StreamEvent> events;
    for (const auto& [name, data] : std::vector<std::pair<std::string, std::string>>{
             {"message_start",
              R"({"type":"message_start","message":{"usage":{"input_tokens":3}}})"},
             {"content_block_start",
              R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_X","name":"f","input":{}}})"},
             {"content_block_delta",
              R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}})"},
             {"message_delta",
              R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":5}})"},
             {"message_stop", R"({"type":"message_stop"})"},
         }) {
        for (StreamEvent& e : decoder.decode(name, data)) {
            events.push_back(std::move(e));
        }
    }
    EXPECT_EQ(render(events), (Lines{"usage:3/5", R"(tool:toolu_X f {"a":1})", "stop:tool_use"}));
}

TEST(AnthropicCodecTest, MalformedToolBlocksGiveOneFailure) {
    for (const char* data :
         {R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","name":"f"}})",
          R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t"}})",
          R"({"type":"content_block_start","index":"0","content_block":{"type":"tool_use","id":"t","name":"f"}})"}) {
        AnthropicStreamDecoder decoder;
        EXPECT_EQ(render(decoder.decode("content_block_start", data)), (Lines{"error:malformed"}))
            << data;
    }
    AnthropicStreamDecoder bad_delta;
    bad_delta.decode(
        "content_block_start",
        R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}})"
    );
    EXPECT_EQ(
        render(bad_delta.decode(
            "content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":5}})"
        )),
        (Lines{"error:malformed"})
    );
}

TEST(AnthropicCodecTest, ResponseWithToolUseBlocks) {
    const auto events = decode_anthropic_response(
        R"({"type":"message","role":"assistant","content":[)"
        R"({"type":"text","text":"Checking."},)"
        R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},)"
        R"({"type":"tool_use","id":"toolu_2","name":"get_weather","input":"Rome"}],)"
        R"("stop_reason":"tool_use","usage":{"input_tokens":7,"output_tokens":8}})"
    );
    ASSERT_TRUE(events.has_value());
    EXPECT_EQ(
        render(*events),
        (Lines{
            "text:Checking.",
            R"(tool:toolu_1 get_weather {"city":"Paris"})",
            "tool:toolu_2 get_weather {}",
            "usage:7/8",
            "stop:tool_use",
        })
    );
    EXPECT_TRUE((*events)[2].tool_call.invalid_arguments);
}

}  // namespace
}  // namespace parley::llm
