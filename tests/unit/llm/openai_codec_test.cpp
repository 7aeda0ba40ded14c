#include "llm/openai_codec.hpp"

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
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

// A chunk whose only choice has `delta` and `finish_reason` as given (JSON fragments).
std::string chunk(std::string_view delta, std::string_view finish = "null") {
    return R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[)"
           R"({"index":0,"delta":)" +
           std::string(delta) + R"(,"finish_reason":)" + std::string(finish) + "}]}";
}

std::string content_chunk(std::string_view text) {
    return chunk(bj::serialize(bj::object{{"content", text}}));
}

ChatRequest sample_request() {
    ChatRequest r;
    r.model = "llama-3.1-8b-instant";
    r.system = "Be brief.";
    r.messages = {{"user", "Hi"}, {"assistant", "Hello!"}, {"user", "Weather?"}};
    r.max_tokens = 256;
    return r;
}

// --- request ------------------------------------------------------------------------------------

TEST(OpenAiCodecTest, RequestPutsSystemFirstAndKeepsRoles) {
    ChatRequest r = sample_request();
    r.temperature = 0.5;
    const bj::object body = bj::parse(build_openai_request(r, false)).as_object();
    EXPECT_EQ(body.at("model"), "llama-3.1-8b-instant");
    EXPECT_EQ(body.at("max_tokens"), 256);
    EXPECT_DOUBLE_EQ(body.at("temperature").to_number<double>(), 0.5);
    EXPECT_EQ(body.at("stream"), false);
    EXPECT_FALSE(body.contains("stream_options"));
    const bj::array& messages = body.at("messages").as_array();
    ASSERT_EQ(messages.size(), 4U);
    EXPECT_EQ(messages[0], (bj::object{{"role", "system"}, {"content", "Be brief."}}));
    EXPECT_EQ(messages[1], (bj::object{{"role", "user"}, {"content", "Hi"}}));
    EXPECT_EQ(messages[2], (bj::object{{"role", "assistant"}, {"content", "Hello!"}}));
    EXPECT_EQ(messages[3], (bj::object{{"role", "user"}, {"content", "Weather?"}}));
}

// The body is written, not built as a tree: byte for byte what serialising the tree of the same
// request gives, every optional part present (tools, a tool round, temperature, stop).
TEST(OpenAiCodecTest, RequestBodyIsTheSerialisedTreeByteForByte) {
    ChatRequest r = sample_request();
    r.temperature = 0.7;
    r.stop = {"END", "\n\n"};
    ToolSpec tool;
    tool.name = "get_time";
    tool.description = "The time now";
    tool.parameters = R"({"type":"object","properties":{}})";
    r.tools = {tool};
    ChatMessage asked{"assistant", ""};
    asked.tool_calls.resize(2);
    asked.tool_calls[0].id = "call_1";
    asked.tool_calls[0].name = "get_time";  // no arguments: sent as {}
    asked.tool_calls[1].id = "call_2";
    asked.tool_calls[1].name = "x";
    asked.tool_calls[1].arguments = R"({"a":1})";
    ChatMessage told{"tool", "12:00 \"noon\""};
    told.tool_call_id = "call_1";
    r.messages.push_back(asked);
    r.messages.push_back(told);
    const bj::object function{
        {"name", "get_time"},
        {"description", "The time now"},
        {"parameters", {{"type", "object"}, {"properties", bj::object{}}}},
    };
    const bj::object expected{
        {"model", "llama-3.1-8b-instant"},
        {"messages",
         bj::array{
             bj::object{{"role", "system"}, {"content", "Be brief."}},
             bj::object{{"role", "user"}, {"content", "Hi"}},
             bj::object{{"role", "assistant"}, {"content", "Hello!"}},
             bj::object{{"role", "user"}, {"content", "Weather?"}},
             bj::object{
                 {"role", "assistant"},
                 {"content", nullptr},
                 {"tool_calls",
                  bj::array{
                      bj::object{
                          {"id", "call_1"},
                          {"type", "function"},
                          {"function", {{"name", "get_time"}, {"arguments", "{}"}}},
                      },
                      bj::object{
                          {"id", "call_2"},
                          {"type", "function"},
                          {"function", {{"name", "x"}, {"arguments", R"({"a":1})"}}},
                      },
                  }},
             },
             bj::object{
                 {"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "12:00 \"noon\""}},
         }},
        {"tools", bj::array{bj::object{{"type", "function"}, {"function", function}}}},
        {"max_tokens", 256},
        {"temperature", 0.7},
        {"stop", bj::array{"END", "\n\n"}},
        {"stream", true},
        {"stream_options", {{"include_usage", true}}},
    };
    EXPECT_EQ(build_openai_request(r, true), bj::serialize(expected));
}

TEST(OpenAiCodecTest, StreamingRequestAsksForUsage) {
    const bj::object body = bj::parse(build_openai_request(sample_request(), true)).as_object();
    EXPECT_EQ(body.at("stream"), true);
    EXPECT_EQ(body.at("stream_options"), (bj::object{{"include_usage", true}}));
}

TEST(OpenAiCodecTest, RequestOmitsEmptySystemAndUnsetTemperature) {
    ChatRequest r = sample_request();
    r.system.clear();
    const bj::object body = bj::parse(build_openai_request(r, true)).as_object();
    EXPECT_FALSE(body.contains("temperature"));
    const bj::array& messages = body.at("messages").as_array();
    ASSERT_EQ(messages.size(), 3U);
    EXPECT_EQ(messages[0].at("role"), "user");
}

TEST(OpenAiCodecTest, ThinkingAddsNothingPortable) {
    ChatRequest r = sample_request();
    const std::string plain = build_openai_request(r, true);
    r.thinking = true;
    r.thinking_budget = 4096;
    EXPECT_EQ(build_openai_request(r, true), plain);
}

TEST(OpenAiCodecTest, RequestEscapesContent) {
    ChatRequest r = sample_request();
    r.messages = {{"user", "quote \" backslash \\ newline \n tab \t ünï"}};
    const bj::object body = bj::parse(build_openai_request(r, false)).as_object();
    EXPECT_EQ(body.at("messages").as_array()[1].at("content").as_string(), r.messages[0].content);
}

// --- streams from wire-formats.md ---------------------------------------------------------------

// §2.2, verbatim.
constexpr std::string_view kTextStream =
    R"sse(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}

data: [DONE]

)sse";

TEST(OpenAiCodecTest, DecodesTheDocTextStreamWithStopAfterUsage) {
    OpenAiStreamDecoder decoder;
    const auto events = feed(decoder, kTextStream);
    EXPECT_EQ(render(events), (Lines{"text:Hello", "usage:9/2", "stop:stop"}));
    EXPECT_TRUE(decoder.done());
    EXPECT_EQ(events[1].usage.input_tokens, 9);
    EXPECT_EQ(events[1].usage.output_tokens, 2);
}

TEST(OpenAiCodecTest, NotDoneUntilTheSentinel) {
    OpenAiStreamDecoder decoder;
    const auto events = split_sse(kTextStream);
    ASSERT_EQ(events.size(), 5U);
    for (std::size_t i = 0; i + 1 < events.size(); ++i) {
        for (const StreamEvent& e : decoder.decode(events[i].event, events[i].data)) {
            EXPECT_NE(e.kind, StreamEvent::Kind::stop);
        }
        EXPECT_FALSE(decoder.done());
    }
    EXPECT_EQ(render(decoder.decode("", "[DONE]")), (Lines{"stop:stop"}));
    EXPECT_TRUE(decoder.done());
    EXPECT_TRUE(decoder.decode("", "[DONE]").empty());
    EXPECT_TRUE(decoder.decode("", content_chunk("late")).empty());
}

// §2.3, with the elided `…` fields filled in.
constexpr std::string_view kToolStream =
    R"sse(data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}

data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]},"finish_reason":null}]}

data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}

data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: [DONE]

)sse";

TEST(OpenAiCodecTest, DecodesTheDocToolCallStream) {
    OpenAiStreamDecoder decoder;
    const auto events = feed(decoder, kToolStream);
    EXPECT_EQ(
        render(events),
        (Lines{R"(tool:call_abc get_weather {"location":"Paris"})", "stop:tool_use"})
    );
    EXPECT_FALSE(events[0].tool_call.invalid_arguments);
    EXPECT_TRUE(decoder.done());
}

// §4, the Groq example with its `…` filled in: usage in `x_groq.usage` on the finish chunk.
constexpr std::string_view kGroqStream =
    R"sse(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1,"model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"x_groq":{"id":"req_01"}}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1,"model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{"content":"Hi there"},"finish_reason":null}]}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1,"model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_01","usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"queue_time":0.02,"prompt_time":0.003,"completion_time":0.01,"total_time":0.013}}}

data: [DONE]

)sse";

TEST(OpenAiCodecTest, ReadsGroqUsageFromXGroq) {
    OpenAiStreamDecoder decoder;
    EXPECT_EQ(
        render(feed(decoder, kGroqStream)), (Lines{"text:Hi there", "usage:10/5", "stop:stop"})
    );
}

TEST(OpenAiCodecTest, TopLevelUsageWinsOverXGroq) {
    OpenAiStreamDecoder decoder;
    const auto events = decoder.decode(
        "",
        R"({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2},)"
        R"("x_groq":{"usage":{"prompt_tokens":7,"completion_tokens":8}}})"
    );
    EXPECT_EQ(render(events), (Lines{"usage:1/2"}));
}

TEST(OpenAiCodecTest, DoneWithoutFinishReasonStops) {
    OpenAiStreamDecoder decoder;
    auto events = decoder.decode("", content_chunk("Hi"));
    const auto end = decoder.decode("", "[DONE]");
    events.insert(events.end(), end.begin(), end.end());
    EXPECT_EQ(render(events), (Lines{"text:Hi", "stop:stop"}));
}

TEST(OpenAiCodecTest, MapsEveryFinishReason) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"stop", "stop"},
        {"length", "length"},
        {"tool_calls", "tool_use"},
        {"function_call", "tool_use"},
        {"content_filter", "content_filter"},
        {"something_new", "stop"},
    };
    for (const auto& [wire, expected] : cases) {
        OpenAiStreamDecoder decoder;
        EXPECT_TRUE(decoder.decode("", chunk("{}", "\"" + wire + "\"")).empty()) << wire;
        EXPECT_EQ(render(decoder.decode("", "[DONE]")), (Lines{"stop:" + expected})) << wire;
    }
}

TEST(OpenAiCodecTest, IgnoresOtherChoicesAndUnknownFields) {
    OpenAiStreamDecoder decoder;
    const auto events = decoder.decode(
        "",
        R"({"new_field":{"x":1},"choices":[{"index":1,"delta":{"content":"other"}},)"
        R"({"index":0,"delta":{"content":"mine","future":[1,2]},"finish_reason":null}]})"
    );
    EXPECT_EQ(render(events), (Lines{"text:mine"}));
}

TEST(OpenAiCodecTest, RefusalIsText) {
    OpenAiStreamDecoder decoder;
    EXPECT_EQ(
        render(decoder.decode("", chunk(R"({"refusal":"I can't help with that."})"))),
        (Lines{"text:I can't help with that."})
    );
}

// --- thinking -----------------------------------------------------------------------------------

struct Split {
    std::string thinking;
    std::string text;
    bool thinking_after_text = false;
    bool other = false;
};

Split collect(const std::vector<StreamEvent>& events) {
    Split s;
    for (const StreamEvent& e : events) {
        if (e.kind == StreamEvent::Kind::thinking_delta) {
            s.thinking += e.text;
            s.thinking_after_text = s.thinking_after_text || !s.text.empty();
        } else if (e.kind == StreamEvent::Kind::text_delta) {
            s.text += e.text;
        } else if (e.kind != StreamEvent::Kind::stop) {
            s.other = true;
        }
    }
    return s;
}

std::vector<StreamEvent> decode_parts(const std::vector<std::string>& parts) {
    OpenAiStreamDecoder decoder;
    std::vector<StreamEvent> out;
    for (const std::string& p : parts) {
        const auto events = decoder.decode("", content_chunk(p));
        out.insert(out.end(), events.begin(), events.end());
    }
    const auto end = decoder.decode("", "[DONE]");
    out.insert(out.end(), end.begin(), end.end());
    return out;
}

TEST(OpenAiCodecTest, ThinkTagsSplitAtEveryBoundary) {
    const std::string content = "<think>abc</think>Hello";
    for (std::size_t i = 0; i <= content.size(); ++i) {
        const auto events = decode_parts({content.substr(0, i), content.substr(i)});
        const Split s = collect(events);
        EXPECT_EQ(s.thinking, "abc") << "split at " << i;
        EXPECT_EQ(s.text, "Hello") << "split at " << i;
        EXPECT_FALSE(s.thinking_after_text) << "split at " << i;
        EXPECT_FALSE(s.other) << "split at " << i;
        for (const StreamEvent& e : events) {
            EXPECT_FALSE(e.text.empty() && e.kind != StreamEvent::Kind::stop) << i;
        }
        EXPECT_EQ(events.back().kind, StreamEvent::Kind::stop);
    }
}

TEST(OpenAiCodecTest, ThinkTagsOneCharacterPerChunk) {
    const std::string content = "\n<think>\nstep 1\n</think>\n\nHello <b>world</b>";
    std::vector<std::string> parts;
    for (char c : content) {
        parts.emplace_back(1, c);
    }
    const Split s = collect(decode_parts(parts));
    EXPECT_EQ(s.thinking, "\nstep 1\n");
    EXPECT_EQ(s.text, "Hello <b>world</b>");  // whitespace after </think> trimmed once
    EXPECT_FALSE(s.thinking_after_text);
}

TEST(OpenAiCodecTest, OnlyALeadingThinkTagIsReasoning) {
    const Split s = collect(decode_parts({"Hello <think>x</think>", " <think>y</think>"}));
    EXPECT_EQ(s.thinking, "");
    EXPECT_EQ(s.text, "Hello <think>x</think> <think>y</think>");
}

TEST(OpenAiCodecTest, TagLookalikesAreText) {
    EXPECT_EQ(collect(decode_parts({"<thi", "s is text"})).text, "<this is text");
    EXPECT_EQ(collect(decode_parts({"<thi"})).text, "<thi");  // ended while undecided
    EXPECT_EQ(collect(decode_parts({"  ", "\n"})).text, "  \n");
    const Split inside = collect(decode_parts({"<think>a</th", "is not the end</think>b"}));
    EXPECT_EQ(inside.thinking, "a</this not the end");
    EXPECT_EQ(inside.text, "b");
}

TEST(OpenAiCodecTest, UnclosedThinkIsAllReasoning) {
    const Split s = collect(decode_parts({"<think>still going</thi"}));
    EXPECT_EQ(s.thinking, "still going</thi");
    EXPECT_EQ(s.text, "");
}

TEST(OpenAiCodecTest, HeldBackTextIsFlushedAtFinishBeforeUsage) {
    OpenAiStreamDecoder decoder;
    auto events = decoder.decode("", content_chunk("<th"));
    EXPECT_TRUE(events.empty());
    for (const std::string& data :
         {chunk("{}", "\"length\""),
          std::string(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}})"),
          std::string("[DONE]")}) {
        const auto more = decoder.decode("", data);
        events.insert(events.end(), more.begin(), more.end());
    }
    EXPECT_EQ(render(events), (Lines{"text:<th", "usage:3/1", "stop:length"}));
}

TEST(OpenAiCodecTest, ReasoningFieldsAreThinking) {
    for (const char* field : {"reasoning", "reasoning_content"}) {
        OpenAiStreamDecoder decoder;
        const auto events =
            decoder.decode("", chunk(std::string(R"({")") + field + R"(":"Let me see"})"));
        EXPECT_EQ(render(events), (Lines{"think:Let me see"})) << field;
    }
    OpenAiStreamDecoder both;
    EXPECT_EQ(
        render(both.decode(
            "", chunk(R"({"reasoning":"once","reasoning_content":"once","content":"Hi"})")
        )),
        (Lines{"think:once", "text:Hi"})
    );
}

// --- errors in the stream -----------------------------------------------------------------------

TEST(OpenAiCodecTest, MidStreamErrorObjectEndsTheStream) {
    OpenAiStreamDecoder decoder;
    EXPECT_EQ(render(decoder.decode("", content_chunk("Hi"))), (Lines{"text:Hi"}));
    const auto events = decoder.decode(
        "",
        R"({"error":{"message":"Rate limit reached for model","type":"tokens",)"
        R"("code":"rate_limit_exceeded"}})"
    );
    ASSERT_EQ(render(events), (Lines{"error:rate_limit"}));
    EXPECT_EQ(events[0].text, "Rate limit reached for model");
    EXPECT_EQ(events[0].http_status, 0);
    EXPECT_TRUE(decoder.done());
    EXPECT_TRUE(decoder.decode("", content_chunk("more")).empty());
    EXPECT_TRUE(decoder.decode("", "[DONE]").empty());
}

TEST(OpenAiCodecTest, MidStreamErrorKinds) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({"error":{"message":"boom","type":"server_error","code":null}})", "server"},
        {R"({"error":{"message":"m","type":"invalid_request_error","code":"invalid_api_key"}})",
         "authentication"},
        {R"({"error":{"message":"m","type":"overloaded_error"}})", "overloaded"},
        {R"({"error":{"message":"m","type":"mystery"}})", "server"},
        {R"({"error":{"object":"error","message":"m","type":"Weird","code":429}})", "rate_limit"},
        {R"({"object":"error","message":"m","type":"BadRequestError","code":400})",
         "invalid_request"},
        {R"({"error":"model not loaded"})", "server"},
        {R"({"choices":[],"x_groq":{"error":"over capacity"}})", "server"},
    };
    for (const auto& [data, kind] : cases) {
        OpenAiStreamDecoder decoder;
        const auto events = decoder.decode("", data);
        ASSERT_EQ(render(events), (Lines{"error:" + kind})) << data;
        EXPECT_FALSE(events[0].text.empty());
    }
}

TEST(OpenAiCodecTest, ErrorEventNameIsAFailure) {
    OpenAiStreamDecoder decoder;
    EXPECT_EQ(render(decoder.decode("error", R"({"message":"x"})")), (Lines{"error:server"}));
}

TEST(OpenAiCodecTest, MalformedDataGivesExactlyOneFailure) {
    const std::vector<std::string> bad = {
        "{not json",
        "[1,2]",
        R"("just a string")",
        R"({"choices":"nope"})",
        R"({"choices":[5]})",
        R"({"choices":[{"index":0,"delta":{"content":5}}]})",
        R"({"choices":[{"index":0,"delta":"x"}]})",
        R"({"choices":[{"index":0,"delta":{},"finish_reason":7}]})",
        R"({"choices":[],"usage":{"prompt_tokens":"nine"}})",
        R"({"choices":[],"usage":{"prompt_tokens":-1}})",
        // Valid text first, then a bad choice: only the failure comes out.
        R"({"choices":[{"index":0,"delta":{"content":"Hi"}},{"index":"x"}]})",
    };
    for (const std::string& data : bad) {
        OpenAiStreamDecoder decoder;
        std::vector<StreamEvent> events = decoder.decode("", data);
        for (const std::string& next : {content_chunk("after"), std::string("[DONE]")}) {
            const auto more = decoder.decode("", next);
            events.insert(events.end(), more.begin(), more.end());
        }
        EXPECT_EQ(render(events), (Lines{"error:malformed"})) << data;
        EXPECT_TRUE(decoder.done());
    }
}

TEST(OpenAiCodecTest, KeepAliveAndEmptyDataAreIgnored) {
    OpenAiStreamDecoder decoder;
    EXPECT_TRUE(decoder.decode("", "").empty());
    EXPECT_TRUE(decoder.decode("", "  ").empty());
    EXPECT_FALSE(decoder.done());
}

TEST(OpenAiCodecTest, FinishAtConnectionClose) {
    OpenAiStreamDecoder finished;
    finished.decode("", content_chunk("<think>x"));
    finished.decode("", chunk("{}", "\"stop\""));
    EXPECT_EQ(render(finished.finish()), (Lines{"stop:stop"}));
    EXPECT_TRUE(finished.finish().empty());

    OpenAiStreamDecoder cut;
    cut.decode("", content_chunk("Hel"));
    const auto events = cut.finish();
    EXPECT_EQ(render(events), (Lines{"error:connection"}));
    EXPECT_TRUE(cut.done());

    OpenAiStreamDecoder complete;
    feed(complete, kTextStream);
    EXPECT_TRUE(complete.finish().empty());
}

// --- non-streaming ------------------------------------------------------------------------------

TEST(OpenAiCodecTest, DecodesTheDocResponse) {
    // §2.4, verbatim.
    const auto events = decode_openai_response(
        R"({"id":"chatcmpl-123","object":"chat.completion","created":1677652288,"model":"gpt-4o-mini",
 "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},"logprobs":null,"finish_reason":"stop"}],
 "usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}})"
    );
    ASSERT_TRUE(events.has_value());
    EXPECT_EQ(render(*events), (Lines{"text:Hello!", "usage:9/2", "stop:stop"}));
}

TEST(OpenAiCodecTest, ResponseWithReasoning) {
    const auto tagged = decode_openai_response(
        R"({"choices":[{"index":0,"message":{"role":"assistant",)"
        R"("content":"<think>\nhmm\n</think>\n\nAnswer"},"finish_reason":"length"}],)"
        R"("usage":{"prompt_tokens":5,"completion_tokens":7}})"
    );
    ASSERT_TRUE(tagged.has_value());
    EXPECT_EQ(render(*tagged), (Lines{"think:\nhmm\n", "text:Answer", "usage:5/7", "stop:length"}));

    const auto field =
        decode_openai_response(R"({"choices":[{"message":{"content":"A","reasoning_content":"R"},)"
                               R"("finish_reason":"tool_calls"}]})");
    ASSERT_TRUE(field.has_value());
    EXPECT_EQ(render(*field), (Lines{"think:R", "text:A", "stop:tool_use"}));

    const auto unclosed = decode_openai_response(
        R"({"choices":[{"message":{"content":"<think>cut off"},"finish_reason":"length"}]})"
    );
    ASSERT_TRUE(unclosed.has_value());
    EXPECT_EQ(render(*unclosed), (Lines{"think:cut off", "stop:length"}));
}

TEST(OpenAiCodecTest, ResponseCarryingAnErrorIsAFailureEvent) {
    const auto events =
        decode_openai_response(R"({"error":{"message":"busy","type":"overloaded_error"}})");
    ASSERT_TRUE(events.has_value());
    ASSERT_EQ(render(*events), (Lines{"error:overloaded"}));
    EXPECT_EQ((*events)[0].text, "busy");
}

TEST(OpenAiCodecTest, MalformedResponseIsAnUpstreamError) {
    for (const char* body :
         {"",
          "<html>",
          "[]",
          R"({"choices":[]})",
          R"({"choices":[{"message":"x"}]})",
          R"({"choices":[{"finish_reason":"stop"}]})"}) {
        const auto events = decode_openai_response(body);
        ASSERT_FALSE(events.has_value()) << body;
        EXPECT_EQ(events.error().type, ErrorType::upstream) << body;
        EXPECT_FALSE(events.error().detail.empty());
    }
}

// --- HTTP errors --------------------------------------------------------------------------------

TEST(OpenAiCodecTest, HttpErrors) {
    struct Case {
        int status;
        std::string body;
        UpstreamError kind;
        std::string message;
    };

    const std::vector<Case> cases = {
        {400,
         R"({"error":{"message":"Unknown parameter","type":"invalid_request_error","param":"x","code":null}})",
         UpstreamError::invalid_request,
         "Unknown parameter"},
        {401,
         R"({"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}})",
         UpstreamError::authentication,
         "Incorrect API key provided"},
        // A 401 whose type alone would say invalid_request stays authentication.
        {401,
         R"({"error":{"message":"no key","type":"invalid_request_error"}})",
         UpstreamError::authentication,
         "no key"},
        {429,
         R"({"error":{"message":"Rate limit reached for model `llama-3.1-8b-instant` Please try again in 5.289s","type":"tokens","code":"rate_limit_exceeded"}})",
         UpstreamError::rate_limit,
         "Rate limit reached for model `llama-3.1-8b-instant` Please try again in 5.289s"},
        {429,
         R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}})",
         UpstreamError::authentication,
         "You exceeded your current quota"},
        {500,
         R"({"error":{"message":"The server had an error","type":"server_error"}})",
         UpstreamError::server,
         "The server had an error"},
        // The generic server_error type does not hide the 503's "overloaded".
        {503,
         R"({"error":{"message":"Service Unavailable","type":"server_error"}})",
         UpstreamError::overloaded,
         "Service Unavailable"},
        {529, "{}", UpstreamError::overloaded, "upstream returned HTTP 529"},
        {404,
         R"({"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404})",
         UpstreamError::invalid_request,
         "The model `x` does not exist."},
        {502,
         "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
         UpstreamError::server,
         "upstream returned HTTP 502"},
    };
    for (const Case& c : cases) {
        const std::optional<std::chrono::seconds> retry =
            c.status == 429 ? std::optional(std::chrono::seconds(6)) : std::nullopt;
        const StreamEvent e = decode_openai_error(c.status, c.body, retry);
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
    r.model = "gpt-4o-mini";
    r.system = "Use tools.";
    r.max_tokens = 100;
    r.tools = {
        {"get_weather",
         "Current weather in a city",
         R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"},
        {"current_time", "", ""},  // no description, no schema
    };
    ToolCall paris{"call_1", "get_weather", R"({"city":"Paris"})", std::nullopt};
    ToolCall rome{"call_2", "get_weather", R"({"city":"Rome"})", std::nullopt};
    r.messages = {
        {"user", "Weather in Paris and Rome?"},
        {"assistant", "", {paris, rome}},
        {"tool", R"({"temp_c":18})", {}, "call_1", "get_weather"},
        {"tool", "sunny, 24 C", {}, "call_2", "get_weather"},
        {"assistant", "Paris 18, Rome 24."},
        {"user", "And now?"},
        {"assistant", "Checking.", {{"call_3", "current_time", "", std::nullopt}}},
        {"tool", "12:00", {}, "call_3", "current_time"},
    };
    return r;
}

TEST(OpenAiCodecTest, RequestEncodesToolsAndToolHistoryGolden) {
    const bj::value expected = bj::parse(R"({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Use tools."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\":18}"},
            {"role": "tool", "tool_call_id": "call_2", "content": "sunny, 24 C"},
            {"role": "assistant", "content": "Paris 18, Rome 24."},
            {"role": "user", "content": "And now?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_3", "type": "function",
                 "function": {"name": "current_time", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_3", "content": "12:00"}
        ],
        "tools": [
            {"type": "function", "function": {
                "name": "get_weather", "description": "Current weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}},
            {"type": "function", "function": {
                "name": "current_time",
                "parameters": {"type": "object", "properties": {}}}}
        ],
        "max_tokens": 100,
        "stream": true,
        "stream_options": {"include_usage": true}
    })");
    EXPECT_EQ(bj::parse(build_openai_request(tool_request(), true)), expected)
        << build_openai_request(tool_request(), true);
}

TEST(OpenAiCodecTest, RequestWithoutToolsHasNoToolsField) {
    const bj::object body = bj::parse(build_openai_request(sample_request(), true)).as_object();
    EXPECT_FALSE(body.contains("tools"));
}

std::string tool_chunk(
    std::int64_t index,
    std::string_view id,
    std::string_view name,
    std::string_view arguments,
    std::string_view finish = "null"
) {
    bj::object call{{"index", index}};
    bj::object function{{"arguments", arguments}};
    if (!id.empty()) {
        call["id"] = id;
        call["type"] = "function";
        function["name"] = name;
    }
    call["function"] = std::move(function);
    return chunk(bj::serialize(bj::object{{"tool_calls", bj::array{call}}}), finish);
}

// Two parallel calls, arguments split over many deltas (gpt-4o style: the first delta of a call
// has id, name and empty arguments), then the finish chunk, the usage chunk and [DONE].
constexpr std::string_view kParallelToolStream =
    R"sse(data: {"id":"chatcmpl-tc2","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_paris","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-tc2","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-tc2","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\": \"Pa"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-tc2","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ris\", \"unit\""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-tc2","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":": \"c\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-tc2","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_rome","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-tc2","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"city\""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-tc2","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":": \"Rome\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-tc2","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}

data: {"id":"chatcmpl-tc2","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":80,"completion_tokens":42,"total_tokens":122}}

data: [DONE]

)sse";

TEST(OpenAiCodecTest, TwoParallelCallsSplitOverManyDeltas) {
    OpenAiStreamDecoder decoder;
    const auto events = feed(decoder, kParallelToolStream);
    EXPECT_EQ(
        render(events),
        (Lines{
            R"(tool:call_paris get_weather {"city":"Paris","unit":"c"})",
            R"(tool:call_rome get_weather {"city":"Rome"})",
            "usage:80/42",
            "stop:tool_use",
        })
    );
    for (const StreamEvent& e : events) {
        EXPECT_FALSE(e.tool_call.invalid_arguments) << render(e);
    }
}

TEST(OpenAiCodecTest, ToolCallsComeOnceAtTheFinishChunkNotBefore) {
    OpenAiStreamDecoder decoder;
    const auto events = split_sse(kParallelToolStream);
    for (std::size_t i = 0; i + 3 < events.size(); ++i) {
        EXPECT_TRUE(decoder.decode(events[i].event, events[i].data).empty()) << i;
    }
    const std::size_t finish = events.size() - 3;
    EXPECT_EQ(render(decoder.decode(events[finish].event, events[finish].data)).size(), 2U);
    EXPECT_EQ(render(decoder.decode("", events[finish + 1].data)), (Lines{"usage:80/42"}));
    EXPECT_EQ(render(decoder.decode("", "[DONE]")), (Lines{"stop:tool_use"}));
}

TEST(OpenAiCodecTest, ArgumentsSplitAtEveryBoundaryGiveTheSameCall) {
    const std::string arguments = R"({"query": "caf\u00e9 \"quoted\"", "n": [1, 2]})";
    for (std::size_t i = 0; i <= arguments.size(); ++i) {
        OpenAiStreamDecoder decoder;
        std::vector<StreamEvent> events;
        for (const std::string& data :
             {tool_chunk(0, "call_x", "search", ""),
              tool_chunk(0, "", "", arguments.substr(0, i)),
              tool_chunk(0, "", "", arguments.substr(i)),
              chunk("{}", "\"tool_calls\""),
              std::string("[DONE]")}) {
            for (StreamEvent& e : decoder.decode("", data)) {
                events.push_back(std::move(e));
            }
        }
        EXPECT_EQ(
            render(events),
            (Lines{R"(tool:call_x search {"query":"café \"quoted\"","n":[1,2]})", "stop:tool_use"})
        ) << "split at "
          << i;
    }
}

TEST(OpenAiCodecTest, InterleavedPiecesOfParallelCallsFollowTheirIndex) {
    OpenAiStreamDecoder decoder;
    std::vector<StreamEvent> events;
    for (const std::string& data :
         {tool_chunk(1, "call_b", "second", "{\"b\":"),
          tool_chunk(0, "call_a", "first", "{\"a\":"),
          tool_chunk(1, "", "", "2}"),
          tool_chunk(0, "", "", "1}", "\"tool_calls\""),
          std::string("[DONE]")}) {
        for (StreamEvent& e : decoder.decode("", data)) {
            events.push_back(std::move(e));
        }
    }
    EXPECT_EQ(
        render(events),
        (Lines{R"(tool:call_a first {"a":1})", R"(tool:call_b second {"b":2})", "stop:tool_use"})
    );
}

TEST(OpenAiCodecTest, InvalidOrMissingArguments) {
    struct Case {
        std::string arguments;
        std::string expected;
        std::string reason;  // a part of invalid_arguments; empty: valid
    };

    const std::vector<Case> cases = {
        {R"({"city": "Par)", "{}", "not valid JSON"},
        {"[1, 2]", "{}", "not a JSON object"},
        {"\"Paris\"", "{}", "not a JSON object"},
        {"", "{}", ""},
        {"  \n", "{}", ""},
        {R"( { "city" : "Paris" } )", R"({"city":"Paris"})", ""},
    };
    for (const Case& c : cases) {
        OpenAiStreamDecoder decoder;
        std::vector<StreamEvent> events = decoder.decode("", tool_chunk(0, "call_1", "f", ""));
        for (const std::string& data :
             {tool_chunk(0, "", "", c.arguments), chunk("{}", "\"tool_calls\"")}) {
            for (StreamEvent& e : decoder.decode("", data)) {
                events.push_back(std::move(e));
            }
        }
        ASSERT_EQ(events.size(), 1U) << c.arguments;
        const ToolCall& call = events[0].tool_call;
        EXPECT_EQ(call.arguments, c.expected) << c.arguments;
        if (c.reason.empty()) {
            EXPECT_FALSE(call.invalid_arguments) << c.arguments;
        } else {
            ASSERT_TRUE(call.invalid_arguments) << c.arguments;
            EXPECT_NE(call.invalid_arguments->find(c.reason), std::string::npos)
                << *call.invalid_arguments;
        }
    }
}

TEST(OpenAiCodecTest, ToolCallsWithoutFinishReasonComeAtDoneAsToolUse) {
    // Compatible servers that never say tool_calls: the calls still come, and the stop says so.
    OpenAiStreamDecoder decoder;
    decoder.decode("", tool_chunk(0, "call_1", "f", R"({"x":1})"));
    EXPECT_EQ(
        render(decoder.decode("", "[DONE]")), (Lines{R"(tool:call_1 f {"x":1})", "stop:tool_use"})
    );

    OpenAiStreamDecoder says_stop;
    EXPECT_EQ(
        render(says_stop.decode("", tool_chunk(0, "call_1", "f", "{}", "\"stop\""))),
        (Lines{"tool:call_1 f {}"})
    );
    EXPECT_EQ(render(says_stop.decode("", "[DONE]")), (Lines{"stop:tool_use"}));
}

TEST(OpenAiCodecTest, ToolCallsAtConnectionClose) {
    OpenAiStreamDecoder finished;
    finished.decode("", tool_chunk(0, "call_1", "f", "{}"));
    finished.decode("", chunk("{}", "\"tool_calls\""));
    EXPECT_EQ(render(finished.finish()), (Lines{"stop:tool_use"}));

    // Cut off while the arguments were still arriving: no half call, only the failure.
    OpenAiStreamDecoder cut;
    cut.decode("", tool_chunk(0, "call_1", "f", R"({"x":)"));
    EXPECT_EQ(render(cut.finish()), (Lines{"error:connection"}));
}

TEST(OpenAiCodecTest, TextThenToolCall) {
    OpenAiStreamDecoder decoder;
    std::vector<StreamEvent> events = decoder.decode("", content_chunk("Let me check."));
    for (const std::string& data :
         {tool_chunk(0, "call_1", "get_weather", R"({"city":"Paris"})"),
          chunk("{}", "\"tool_calls\""),
          std::string("[DONE]")}) {
        for (StreamEvent& e : decoder.decode("", data)) {
            events.push_back(std::move(e));
        }
    }
    EXPECT_EQ(
        render(events),
        (Lines{
            "text:Let me check.",
            R"(tool:call_1 get_weather {"city":"Paris"})",
            "stop:tool_use",
        })
    );
}

TEST(OpenAiCodecTest, ToolCallsWithoutIndexOrIdFromCompatibleServers) {
    OpenAiStreamDecoder decoder;
    // Ollama-style: whole calls, no index, arguments as an object; then one without an id.
    const auto events = decoder.decode(
        "",
        chunk(
            R"({"tool_calls":[{"id":"call_a","function":{"name":"f","arguments":{"x":1}}},)"
            R"({"id":"call_b","function":{"name":"g","arguments":"{}"}}]})",
            "\"stop\""
        )
    );
    EXPECT_EQ(render(events), (Lines{R"(tool:call_a f {"x":1})", "tool:call_b g {}"}));

    OpenAiStreamDecoder no_id;
    no_id.decode("", chunk(R"({"tool_calls":[{"index":0,"function":{"name":"f"}}]})"));
    EXPECT_EQ(render(no_id.decode("", chunk("{}", "\"tool_calls\""))), (Lines{"tool:call_1 f {}"}));
}

TEST(OpenAiCodecTest, MalformedToolCallsGiveOneFailure) {
    for (const char* delta :
         {R"({"tool_calls":"x"})",
          R"({"tool_calls":[5]})",
          R"({"tool_calls":[{"index":"0"}]})",
          R"({"tool_calls":[{"index":0,"function":"f"}]})",
          R"({"tool_calls":[{"index":0,"function":{"arguments":7}}]})"}) {
        OpenAiStreamDecoder decoder;
        EXPECT_EQ(render(decoder.decode("", chunk(delta))), (Lines{"error:malformed"})) << delta;
        EXPECT_TRUE(decoder.done());
    }
}

TEST(OpenAiCodecTest, ResponseWithToolCalls) {
    const auto events = decode_openai_response(
        R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{)"
        R"("role":"assistant","content":null,"tool_calls":[)"
        R"({"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}},)"
        R"({"id":"call_def","type":"function","function":{"name":"get_weather","arguments":"{bad"}}]},)"
        R"("finish_reason":"tool_calls"}],"usage":{"prompt_tokens":20,"completion_tokens":9}})"
    );
    ASSERT_TRUE(events.has_value());
    EXPECT_EQ(
        render(*events),
        (Lines{
            R"(tool:call_abc get_weather {"location":"Paris"})",
            "tool:call_def get_weather {}",
            "usage:20/9",
            "stop:tool_use",
        })
    );
    EXPECT_TRUE((*events)[1].tool_call.invalid_arguments);
}

}  // namespace
}  // namespace parley::llm
