#include "llm/gemini_codec.hpp"

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
    r.model = "gemini-2.5-flash";
    r.system = "You are a helpful assistant.";
    r.messages = {
        {"user", "Hi"},
        {"assistant", "Hello! How can I help?"},
        {"user", "Weather in Paris?"},
    };
    r.max_tokens = 1024;
    r.temperature = 0.7;
    return r;
}

bj::object text_content(std::string_view role, std::string_view text) {
    return bj::object{{"role", role}, {"parts", bj::array{bj::object{{"text", text}}}}};
}

// --- request ------------------------------------------------------------------------------------

TEST(GeminiCodecTest, RequestUsesModelRoleAndSystemInstruction) {
    const bj::object body = bj::parse(build_gemini_request(sample_request(), true)).as_object();
    EXPECT_FALSE(body.contains("model"));
    const bj::array& contents = body.at("contents").as_array();
    ASSERT_EQ(contents.size(), 3U);
    EXPECT_EQ(contents[0], text_content("user", "Hi"));
    EXPECT_EQ(contents[1], text_content("model", "Hello! How can I help?"));
    EXPECT_EQ(contents[2], text_content("user", "Weather in Paris?"));
    EXPECT_EQ(
        body.at("systemInstruction"),
        (bj::object{{"parts", bj::array{bj::object{{"text", "You are a helpful assistant."}}}}})
    );
    const bj::object& config = body.at("generationConfig").as_object();
    EXPECT_EQ(config.at("maxOutputTokens"), 1024);
    EXPECT_DOUBLE_EQ(config.at("temperature").to_number<double>(), 0.7);
    EXPECT_FALSE(config.contains("thinkingConfig"));
}

TEST(GeminiCodecTest, RequestWithThinking) {
    ChatRequest r = sample_request();
    r.thinking = true;
    r.thinking_budget = 2048;
    const bj::object body = bj::parse(build_gemini_request(r, false)).as_object();
    const bj::object& config = body.at("generationConfig").as_object();
    EXPECT_EQ(
        config.at("thinkingConfig"),
        (bj::object{{"includeThoughts", true}, {"thinkingBudget", 2048}})
    );
    EXPECT_EQ(config.at("maxOutputTokens"), 1024);
    EXPECT_DOUBLE_EQ(config.at("temperature").to_number<double>(), 0.7);
}

TEST(GeminiCodecTest, RequestOmitsEmptySystemAndUnsetTemperature) {
    ChatRequest r = sample_request();
    r.system.clear();
    r.temperature.reset();
    const bj::object body = bj::parse(build_gemini_request(r, true)).as_object();
    EXPECT_FALSE(body.contains("systemInstruction"));
    EXPECT_EQ(body.at("generationConfig"), (bj::object{{"maxOutputTokens", 1024}}));
}

TEST(GeminiCodecTest, StreamingIsChosenByTheUrlNotTheBody) {
    EXPECT_EQ(
        build_gemini_request(sample_request(), true), build_gemini_request(sample_request(), false)
    );
}

// --- streams ------------------------------------------------------------------------------------

// §3.2, verbatim (G-SDK test/unit/api_client_test.ts).
constexpr std::string_view kDocChunk =
    R"sse(data: {"candidates": [{"content": {"parts": [{"text": "The"}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 1,"totalTokenCount": 9}}

)sse";

TEST(GeminiCodecTest, DecodesTheDocChunk) {
    GeminiStreamDecoder decoder;
    EXPECT_EQ(render(feed(decoder, kDocChunk)), (Lines{"text:The", "usage:8/1", "stop:stop"}));
    EXPECT_TRUE(decoder.done());
    EXPECT_TRUE(decoder.finish().empty());
}

// A thinking stream in the shape Gemini 2.5 sends: usageMetadata on every chunk, finishReason only
// on the last.
constexpr std::string_view kThinkingStream =
    R"sse(data: {"candidates":[{"content":{"parts":[{"text":"**Considering the weather**\n","thought":true}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":12,"totalTokenCount":40,"thoughtsTokenCount":28},"modelVersion":"gemini-2.5-flash","responseId":"r1"}

data: {"candidates":[{"content":{"parts":[{"text":"It is mild","thoughtSignature":"c2ln"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":3,"totalTokenCount":43,"thoughtsTokenCount":28},"modelVersion":"gemini-2.5-flash","responseId":"r1"}

data: {"candidates":[{"content":{"parts":[{"text":" in Paris."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":7,"totalTokenCount":47,"thoughtsTokenCount":28},"modelVersion":"gemini-2.5-flash","responseId":"r1"}

)sse";

TEST(GeminiCodecTest, DecodesThoughtsAndCountsThemAsOutput) {
    GeminiStreamDecoder decoder;
    const auto chunks = split_sse(kThinkingStream);
    ASSERT_EQ(chunks.size(), 3U);
    std::vector<StreamEvent> events;
    for (const SseEvent& c : chunks) {
        EXPECT_FALSE(decoder.done());
        const auto more = decoder.decode(c.event, c.data);
        events.insert(events.end(), more.begin(), more.end());
    }
    EXPECT_TRUE(decoder.done());
    EXPECT_EQ(
        render(events),
        (Lines{
            "think:**Considering the weather**\n",
            "text:It is mild",
            "text: in Paris.",
            "usage:12/35",
            "stop:stop",
        })
    );
}

TEST(GeminiCodecTest, FinalChunkWithoutPartsStillStops) {
    GeminiStreamDecoder decoder;
    const auto events = feed(
        decoder,
        R"sse(data: {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":3,"totalTokenCount":3}}

data: {"candidates":[{"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4}}

)sse"
    );
    EXPECT_EQ(render(events), (Lines{"text:Hi", "usage:3/1", "stop:stop"}));
}

TEST(GeminiCodecTest, UsageFromAnEarlierChunkWhenTheLastHasNone) {
    GeminiStreamDecoder decoder;
    decoder.decode(
        "",
        R"({"candidates":[{"content":{"parts":[{"text":"a"}]}}],)"
        R"("usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1}})"
    );
    EXPECT_EQ(
        render(decoder.decode("", R"({"candidates":[{"finishReason":"MAX_TOKENS"}]})")),
        (Lines{"usage:5/1", "stop:length"})
    );
}

TEST(GeminiCodecTest, MapsEveryFinishReason) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"STOP", "stop"},
        {"MAX_TOKENS", "length"},
        {"SAFETY", "content_filter"},
        {"RECITATION", "content_filter"},
        {"BLOCKLIST", "content_filter"},
        {"PROHIBITED_CONTENT", "content_filter"},
        {"SPII", "content_filter"},
        {"OTHER", "content_filter"},
        {"LANGUAGE", "content_filter"},
        {"IMAGE_SAFETY", "content_filter"},
        {"MALFORMED_FUNCTION_CALL", "tool_use"},
        {"UNEXPECTED_TOOL_CALL", "tool_use"},
        {"TOO_MANY_TOOL_CALLS", "tool_use"},
        {"SOMETHING_NEW", "stop"},
    };
    for (const auto& [wire, expected] : cases) {
        GeminiStreamDecoder decoder;
        EXPECT_EQ(
            render(decoder.decode("", R"({"candidates":[{"finishReason":")" + wire + R"("}]})")),
            (Lines{"stop:" + expected})
        ) << wire;
    }
    GeminiStreamDecoder unspecified;
    EXPECT_TRUE(unspecified
                    .decode("", R"({"candidates":[{"finishReason":"FINISH_REASON_UNSPECIFIED"}]})")
                    .empty());
    EXPECT_FALSE(unspecified.done());
}

TEST(GeminiCodecTest, FunctionCallMakesStopToolUse) {
    GeminiStreamDecoder decoder;
    const auto events = decoder.decode(
        "",
        R"({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},)"
        R"("finishReason":"STOP","index":0}]})"
    );
    EXPECT_EQ(
        render(events), (Lines{R"(tool:call_1 get_weather {"city":"Paris"})", "stop:tool_use"})
    );
}

TEST(GeminiCodecTest, BlockedPromptIsAContentFilterStop) {
    GeminiStreamDecoder decoder;
    const auto events = decoder.decode(
        "",
        R"({"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},)"
        R"("usageMetadata":{"promptTokenCount":9,"totalTokenCount":9}})"
    );
    EXPECT_EQ(render(events), (Lines{"usage:9/0", "stop:content_filter"}));
    EXPECT_TRUE(decoder.done());
}

TEST(GeminiCodecTest, IgnoresUnknownFieldsAndOtherParts) {
    GeminiStreamDecoder decoder;
    const auto events = decoder.decode(
        "",
        R"({"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}},)"
        R"({"text":"ok","newField":1}]},"safetyRatings":[],"citationMetadata":{}}],"brandNew":{}})"
    );
    EXPECT_EQ(render(events), (Lines{"text:ok"}));
    EXPECT_TRUE(decoder.decode("", "").empty());
    EXPECT_FALSE(decoder.done());
}

// --- errors in the stream -----------------------------------------------------------------------

TEST(GeminiCodecTest, MidStreamErrorChunk) {
    GeminiStreamDecoder decoder;
    EXPECT_EQ(
        render(decoder.decode("", R"({"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]})")),
        (Lines{"text:Hi"})
    );
    const auto events = decoder.decode(
        "", R"({"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}})"
    );
    ASSERT_EQ(render(events), (Lines{"error:overloaded"}));
    EXPECT_EQ(events[0].text, "The model is overloaded.");
    EXPECT_TRUE(decoder.done());
    EXPECT_TRUE(decoder.decode("", std::string(kDocChunk.substr(6))).empty());
}

TEST(GeminiCodecTest, MapsEveryErrorStatus) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"("code":429,"status":"RESOURCE_EXHAUSTED")", "rate_limit"},
        {R"("code":503,"status":"UNAVAILABLE")", "overloaded"},
        {R"("code":400,"status":"INVALID_ARGUMENT")", "invalid_request"},
        {R"("code":403,"status":"PERMISSION_DENIED")", "authentication"},
        {R"("code":401,"status":"UNAUTHENTICATED")", "authentication"},
        {R"("code":500,"status":"INTERNAL")", "server"},
        {R"("code":504,"status":"DEADLINE_EXCEEDED")", "timeout"},
        {R"("status":"SOMETHING_ELSE")", "server"},
        {R"("code":429)", "rate_limit"},  // no status: the code says it
        {R"("code":"weird")", "server"},
    };
    for (const auto& [fields, kind] : cases) {
        GeminiStreamDecoder decoder;
        const auto events = decoder.decode("", R"({"error":{"message":"m",)" + fields + "}}");
        ASSERT_EQ(render(events), (Lines{"error:" + kind})) << fields;
        EXPECT_EQ(events[0].text, "m");
    }
}

TEST(GeminiCodecTest, MalformedDataGivesExactlyOneFailure) {
    const std::vector<std::string> bad = {
        "{\"candidates\": [",
        "[1]",
        "42",
        R"({"candidates":{}})",
        R"({"candidates":[7]})",
        R"({"candidates":[{"content":{"parts":{}}}]})",
        R"({"candidates":[{"content":{"parts":[{"text":1}]}}]})",
        R"({"candidates":[{"content":{"parts":["x"]}}]})",
        R"({"candidates":[{"finishReason":1}]})",
        R"({"usageMetadata":{"promptTokenCount":"8"}})",
        R"({"usageMetadata":{"promptTokenCount":1.5}})",
        R"({"promptFeedback":{"blockReason":true}})",
        // Text first, then a bad part: only the failure comes out.
        R"({"candidates":[{"content":{"parts":[{"text":"Hi"},{"text":null},3]}}]})",
    };
    for (const std::string& data : bad) {
        GeminiStreamDecoder decoder;
        std::vector<StreamEvent> events = decoder.decode("", data);
        const auto rest = feed(decoder, kDocChunk);
        events.insert(events.end(), rest.begin(), rest.end());
        ASSERT_EQ(render(events), (Lines{"error:malformed"})) << data;
        EXPECT_TRUE(decoder.done());
    }
}

TEST(GeminiCodecTest, FinishAtConnectionClose) {
    GeminiStreamDecoder cut;
    cut.decode("", R"({"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]})");
    EXPECT_EQ(render(cut.finish()), (Lines{"error:connection"}));
    EXPECT_TRUE(cut.done());
    EXPECT_TRUE(cut.finish().empty());
}

// --- non-streaming ------------------------------------------------------------------------------

TEST(GeminiCodecTest, DecodesACompleteResponse) {
    const auto events = decode_gemini_response(
        R"({"candidates":[{"content":{"parts":[{"text":"Hmm.","thought":true},
                                              {"text":"Hello!"}],"role":"model"},
                           "finishReason":"STOP","index":0,"safetyRatings":[]}],
            "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":16,
                             "thoughtsTokenCount":10},
            "modelVersion":"gemini-2.5-flash","responseId":"abc"})"
    );
    ASSERT_TRUE(events.has_value());
    EXPECT_EQ(render(*events), (Lines{"think:Hmm.", "text:Hello!", "usage:4/12", "stop:stop"}));
}

TEST(GeminiCodecTest, ResponseWithoutFinishReasonStillStops) {
    const auto events =
        decode_gemini_response(R"({"candidates":[{"content":{"parts":[{"text":"x"}]}}]})");
    ASSERT_TRUE(events.has_value());
    EXPECT_EQ(render(*events), (Lines{"text:x", "stop:stop"}));

    const auto blocked = decode_gemini_response(R"({"promptFeedback":{"blockReason":"OTHER"}})");
    ASSERT_TRUE(blocked.has_value());
    EXPECT_EQ(render(*blocked), (Lines{"stop:content_filter"}));
}

TEST(GeminiCodecTest, ResponseCarryingAnErrorIsAFailureEvent) {
    const auto events = decode_gemini_response(
        R"([{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}])"
    );
    ASSERT_TRUE(events.has_value());
    ASSERT_EQ(render(*events), (Lines{"error:rate_limit"}));
    EXPECT_EQ((*events)[0].text, "Quota exceeded");
}

TEST(GeminiCodecTest, MalformedResponseIsAnUpstreamError) {
    for (const char* body : {"", "<html>", "[]", R"({"candidates":"x"})"}) {
        const auto events = decode_gemini_response(body);
        ASSERT_FALSE(events.has_value()) << body;
        EXPECT_EQ(events.error().type, ErrorType::upstream) << body;
    }
}

// --- HTTP errors --------------------------------------------------------------------------------

TEST(GeminiCodecTest, HttpErrors) {
    struct Case {
        int status;
        std::string body;
        UpstreamError kind;
        std::string message;
    };

    const std::vector<Case> cases = {
        {400,
         R"({"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}})",
         UpstreamError::invalid_request,
         "Invalid JSON payload received."},
        // Gemini answers a bad key with 400 INVALID_ARGUMENT; the ErrorInfo reason tells.
        {400,
         R"({"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}})",
         UpstreamError::authentication,
         "API key not valid. Please pass a valid API key."},
        {400,
         R"({"error":{"code":400,"message":"User location is not supported for the API use.","status":"FAILED_PRECONDITION"}})",
         UpstreamError::authentication,
         "User location is not supported for the API use."},
        {401,
         R"({"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}})",
         UpstreamError::authentication,
         "Request had invalid authentication credentials."},
        {403,
         R"({"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}})",
         UpstreamError::authentication,
         "Permission denied"},
        {429,
         R"({"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}})",
         UpstreamError::rate_limit,
         "Resource has been exhausted (e.g. check quota)."},
        {500,
         R"({"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}})",
         UpstreamError::server,
         "An internal error has occurred."},
        {503,
         R"({"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}})",
         UpstreamError::overloaded,
         "The model is overloaded. Please try again later."},
        // A 500 that says UNAVAILABLE is an overload.
        {500,
         R"({"error":{"code":500,"message":"busy","status":"UNAVAILABLE"}})",
         UpstreamError::overloaded,
         "busy"},
        {529, "", UpstreamError::overloaded, "upstream returned HTTP 529"},
        {502,
         "<!DOCTYPE html>\n<html lang=en><title>Error 502 (Server Error)!!1</title></html>",
         UpstreamError::server,
         "upstream returned HTTP 502"},
    };
    for (const Case& c : cases) {
        const std::optional<std::chrono::seconds> retry =
            c.status == 429 ? std::optional(std::chrono::seconds(17)) : std::nullopt;
        const StreamEvent e = decode_gemini_error(c.status, c.body, retry);
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
    r.model = "gemini-2.5-flash";
    r.max_tokens = 256;
    r.tools = {
        {"get_weather",
         "Current weather in a city",
         R"({"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",)"
         R"("properties":{"city":{"type":"string","minLength":1},)"
         R"("unit":{"type":["string","null"],"enum":["c","f"],"const":"c"},)"
         R"("days":{"type":"array","items":{"type":"integer","exclusiveMinimum":0}}},)"
         R"("required":["city"],"additionalProperties":false})"},
        {"current_time", "What time it is", R"({"type":"object","properties":{}})"},
    };
    ToolCall paris{"call_1", "get_weather", R"({"city":"Paris"})", std::nullopt, "c2lnLTE="};
    ToolCall rome{"call_2", "get_weather", R"({"city":"Rome"})", std::nullopt};
    r.messages = {
        {"user", "Weather in Paris and Rome?"},
        {"assistant", "", {paris, rome}},
        {"tool", R"({"temp_c":18})", {}, "call_1", "get_weather"},
        {"tool", "sunny, 24 C", {}, "call_2", ""},  // no tool_name: found by the call id
        {"assistant", "Paris 18, Rome 24."},
        {"user", "Time?"},
        {"assistant", "Checking.", {{"call_3", "current_time", "", std::nullopt}}},
        {"tool", "[1,2]", {}, "call_3", "current_time"},
    };
    return r;
}

TEST(GeminiCodecTest, RequestEncodesToolsAndToolHistoryGolden) {
    const bj::value expected = bj::parse(R"({
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                 "thoughtSignature": "c2lnLTE="},
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}},
                {"functionResponse": {"name": "get_weather",
                                      "response": {"result": "sunny, 24 C"}}}]},
            {"role": "model", "parts": [{"text": "Paris 18, Rome 24."}]},
            {"role": "user", "parts": [{"text": "Time?"}]},
            {"role": "model", "parts": [
                {"text": "Checking."},
                {"functionCall": {"name": "current_time", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "current_time", "response": {"result": "[1,2]"}}}]}
        ],
        "tools": [{"functionDeclarations": [
            {"name": "get_weather", "description": "Current weather in a city",
             "parameters": {"type": "object",
                            "properties": {
                                "city": {"type": "string", "minLength": 1},
                                "unit": {"type": "string", "nullable": true, "enum": ["c", "f"]},
                                "days": {"type": "array", "items": {"type": "integer"}}},
                            "required": ["city"]}},
            {"name": "current_time", "description": "What time it is"}
        ]}],
        "generationConfig": {"maxOutputTokens": 256}
    })");
    EXPECT_EQ(bj::parse(build_gemini_request(tool_request(), true)), expected)
        << build_gemini_request(tool_request(), true);
}

TEST(GeminiCodecTest, NoToolsFieldWithoutTools) {
    EXPECT_FALSE(
        bj::parse(build_gemini_request(sample_request(), true)).as_object().contains("tools")
    );
}

// Text first, then two parallel calls in one chunk (whole, as Gemini sends them), the first with
// a thought signature, the second with the id newer models give; then the usage chunk's STOP.
constexpr std::string_view kToolStream =
    R"sse(data: {"candidates": [{"content": {"parts": [{"text": "Let me check."}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 40,"totalTokenCount": 40},"modelVersion": "gemini-2.5-flash","responseId": "r1"}

data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather","args": {"city": "Paris","days": [1,2]}},"thoughtSignature": "c2lnLUE="},{"functionCall": {"id": "fc_rome","name": "get_weather","args": {"city": "Rome"}}}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 40,"totalTokenCount": 40},"modelVersion": "gemini-2.5-flash","responseId": "r1"}

data: {"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 40,"candidatesTokenCount": 25,"totalTokenCount": 65},"modelVersion": "gemini-2.5-flash","responseId": "r1"}

)sse";

TEST(GeminiCodecTest, TwoFunctionCallsInOneChunk) {
    GeminiStreamDecoder decoder;
    const auto events = feed(decoder, kToolStream);
    EXPECT_EQ(
        render(events),
        (Lines{
            "text:Let me check.",
            R"(tool:call_1 get_weather {"city":"Paris","days":[1,2]})",
            R"(tool:fc_rome get_weather {"city":"Rome"})",
            "usage:40/25",
            "stop:tool_use",
        })
    );
    EXPECT_EQ(events[1].tool_call.signature, "c2lnLUE=");
    EXPECT_EQ(events[2].tool_call.signature, "");
    EXPECT_TRUE(decoder.done());
}

TEST(GeminiCodecTest, EachCallIsEmittedWhenItsPartArrives) {
    GeminiStreamDecoder decoder;
    const auto chunks = split_sse(kToolStream);
    ASSERT_EQ(chunks.size(), 3U);
    EXPECT_EQ(render(decoder.decode("", chunks[0].data)), (Lines{"text:Let me check."}));
    EXPECT_EQ(render(decoder.decode("", chunks[1].data)).size(), 2U);
    EXPECT_FALSE(decoder.done());
}

TEST(GeminiCodecTest, GeneratedIdsCountTheCallsOfTheResponse) {
    GeminiStreamDecoder decoder;
    std::vector<StreamEvent> events;
    for (const char* data :
         {R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"a"}}]}}]})",
          R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"b","args":null}}]}}]})",
          R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"c","args":"x"}}]},"finishReason":"STOP"}]})"}) {
        for (StreamEvent& e : decoder.decode("", data)) {
            events.push_back(std::move(e));
        }
    }
    EXPECT_EQ(
        render(events),
        (Lines{"tool:call_1 a {}", "tool:call_2 b {}", "tool:call_3 c {}", "stop:tool_use"})
    );
    EXPECT_FALSE(events[0].tool_call.invalid_arguments);
    ASSERT_TRUE(events[2].tool_call.invalid_arguments);
    EXPECT_NE(events[2].tool_call.invalid_arguments->find("not a JSON object"), std::string::npos);
}

TEST(GeminiCodecTest, MalformedFunctionCallsGiveOneFailure) {
    for (const char* data :
         {R"({"candidates":[{"content":{"parts":[{"functionCall":{"args":{}}}]}}]})",
          R"({"candidates":[{"content":{"parts":[{"functionCall":"f"}]}}]})",
          R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":7}}]}}]})"}) {
        GeminiStreamDecoder decoder;
        EXPECT_EQ(render(decoder.decode("", data)), (Lines{"error:malformed"})) << data;
        EXPECT_TRUE(decoder.done());
    }
}

TEST(GeminiCodecTest, ResponseWithFunctionCalls) {
    const auto events = decode_gemini_response(
        R"({"candidates":[{"content":{"parts":[{"text":"Checking."},)"
        R"({"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}],"role":"model"},)"
        R"("finishReason":"STOP","index":0}],)"
        R"("usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"totalTokenCount":10}})"
    );
    ASSERT_TRUE(events.has_value());
    EXPECT_EQ(
        render(*events),
        (Lines{
            "text:Checking.",
            R"(tool:call_1 get_weather {"city":"Paris"})",
            "usage:4/6",
            "stop:tool_use",
        })
    );
}

}  // namespace
}  // namespace parley::llm
