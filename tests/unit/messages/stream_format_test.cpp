#include "messages/stream_format.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include "common/time.hpp"
#include "unit/llm/codec_test_support.hpp"

namespace parley::messages {
namespace {

namespace bj = boost::json;

using llm::testing::split_sse;
using llm::testing::SseEvent;

// --- the scripted streams -----------------------------------------------------------------------

struct Step {
    enum class Kind { thinking, text, ping };
    Kind kind;
    std::string text;
};

// One stream from start to finish, the same for every format.
struct Script {
    std::string name;  // the golden files' stem: tests/golden/stream/<format>_<name>.<ext>
    std::vector<Step> steps;
    StreamEnd end;

    std::string all(Step::Kind kind) const {
        std::string out;
        for (const Step& s : steps) {
            if (s.kind == kind) {
                out += s.text;
            }
        }
        return out;
    }
};

StreamStart sample_start() {
    StreamStart s;
    s.message_id = "msg_02";
    s.conversation_id = "conv_01";
    s.user_message_id = "msg_01";
    s.model = "claude-sonnet-4-5";
    s.input_tokens = 12;
    s.created_unix = 1764072000;  // 2025-11-25T12:00:00Z
    return s;
}

// The assistant message as stored at the end of a healthy stream.
store::Message sample_reply(std::string content) {
    store::Message m;
    m.id = "msg_02";
    m.conversation_id = "conv_01";
    m.parent_id = "msg_01";
    m.role = "assistant";
    m.content = std::move(content);
    m.status = "complete";
    m.model = "claude-sonnet-4-5";
    m.provider = "anthropic";
    m.finish_reason = "stop";
    m.input_tokens = 12;
    m.output_tokens = 7;
    m.token_count = 7;
    m.cost_micros = 141;
    m.latency_ms = 850;
    m.ttft_ms = 120;
    m.created_at = *parse_iso8601("2025-11-25T12:00:01.000Z");
    return m;
}

Step think(std::string t) {
    return {Step::Kind::thinking, std::move(t)};
}

Step say(std::string t) {
    return {Step::Kind::text, std::move(t)};
}

Step ping() {
    return {Step::Kind::ping, {}};
}

std::vector<Script> scripts() {
    std::vector<Script> out;
    {
        Script s{"text", {say("Hello"), ping(), say(", world!")}, {}};
        s.end.reply = sample_reply("Hello, world!");
        out.push_back(std::move(s));
    }
    {
        Script s{
            "thinking", {think("The user greets."), think(" Answer briefly."), say("Hi!")}, {}};
        s.end.reply = sample_reply("Hi!");
        s.end.reply.thinking = "The user greets. Answer briefly.";
        s.end.reply.finish_reason = "length";
        out.push_back(std::move(s));
    }
    {
        // The upstream broke after some text: the partial answer is stored.
        Script s{"error_mid", {say("The answer"), say(" is")}, {}};
        s.end.reply = sample_reply("The answer is");
        s.end.reply.status = "partial";
        s.end.reply.finish_reason = "error";
        s.end.reply.output_tokens = 3;
        s.end.reply.token_count = 3;
        s.end.reply.cost_micros = 81;
        s.end.error_type = "overloaded_error";
        s.end.error_message = "Overloaded";
        out.push_back(std::move(s));
    }
    {
        // Nothing arrived before the timeout: an error message with no content, no timings.
        Script s{"error_start", {}, {}};
        s.end.reply = sample_reply("");
        s.end.reply.status = "error";
        s.end.reply.provider.reset();
        s.end.reply.finish_reason = "error";
        s.end.reply.output_tokens = 0;
        s.end.reply.token_count = 0;
        s.end.reply.cost_micros = 0;
        s.end.reply.latency_ms.reset();
        s.end.reply.ttft_ms.reset();
        s.end.error_type = "timeout_error";
        s.end.error_message = "The model did not answer in time.";
        out.push_back(std::move(s));
    }
    {
        // A refusal with no text at all: the SDK still needs a text block.
        Script s{"empty", {}, {}};
        s.end.reply = sample_reply("");
        s.end.reply.finish_reason = "content_filter";
        s.end.reply.output_tokens = 0;
        s.end.reply.token_count = 0;
        s.end.reply.cost_micros = 36;
        out.push_back(std::move(s));
    }
    {
        Script s{"thinking_only", {think("Nothing to say.")}, {}};
        s.end.reply = sample_reply("");
        s.end.reply.thinking = "Nothing to say.";
        out.push_back(std::move(s));
    }
    {
        // Quotes, backslashes, control characters, non-ASCII, and text that looks like SSE
        // framing: all of it must stay inside the JSON string.
        Script s{
            "escapes",
            {think("Quote \"this\"\n\nthen \\ that"),
             say("Line one\n\nevent: error\ndata: [DONE]\n\n"),
             say("caf\xC3\xA9 \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x8E\x89\t\r\n\x01"),
             say("\xE2\x80\xA8</script>")},
            {}};
        s.end.reply = sample_reply(s.all(Step::Kind::text));
        s.end.reply.thinking = s.all(Step::Kind::thinking);
        out.push_back(std::move(s));
    }
    return out;
}

// gtest prints a parameter by its name, not its bytes.
void PrintTo(const Script& script, std::ostream* os) {
    *os << script.name;
}

// Every piece the encoder returns, in order, empty ones included.
std::vector<std::string> run(StreamEncoder& encoder, const Script& script) {
    std::vector<std::string> out;
    out.push_back(encoder.start(sample_start()));
    for (const Step& step : script.steps) {
        switch (step.kind) {
            case Step::Kind::thinking:
                out.push_back(encoder.thinking(step.text));
                break;
            case Step::Kind::text:
                out.push_back(encoder.text(step.text));
                break;
            case Step::Kind::ping:
                out.push_back(encoder.ping());
                break;
        }
    }
    out.push_back(encoder.finish(script.end));
    return out;
}

// An SSE stream is the pieces back to back.
std::string sse_stream(StreamEncoder& encoder, const Script& script) {
    std::string out;
    for (const std::string& piece : run(encoder, script)) {
        out += piece;
    }
    return out;
}

// WebSocket frames, the empty ones (nothing to send) dropped.
std::vector<std::string> ws_frames(const Script& script) {
    auto encoder = make_websocket_encoder();
    std::vector<std::string> out;
    for (std::string& piece : run(*encoder, script)) {
        if (!piece.empty()) {
            out.push_back(std::move(piece));
        }
    }
    return out;
}

std::string anthropic_stream(const Script& script) {
    return sse_stream(*make_anthropic_encoder(), script);
}

std::string openai_stream(const Script& script) {
    return sse_stream(*make_openai_encoder(), script);
}

std::string websocket_lines(const Script& script) {
    std::string out;
    for (const std::string& frame : ws_frames(script)) {
        out += frame;
        out += '\n';
    }
    return out;
}

// --- golden files -------------------------------------------------------------------------------

std::string golden_path(std::string_view file) {
    return std::string(PARLEY_SOURCE_DIR "/tests/golden/stream/") + std::string(file);
}

bool updating_golden() {
    const char* v = std::getenv("PARLEY_UPDATE_GOLDEN");
    return v != nullptr && std::string_view(v) == "1";
}

// Compares `actual` with the golden file byte for byte; PARLEY_UPDATE_GOLDEN=1 rewrites it.
void expect_golden(std::string_view file, const std::string& actual) {
    const std::string path = golden_path(file);
    if (updating_golden()) {
        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << actual;
        ASSERT_TRUE(out.good()) << "cannot write " << path;
        return;
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in.good()) << "missing " << path
                           << " (run with PARLEY_UPDATE_GOLDEN=1 to create it)";
    std::stringstream expected;
    expected << in.rdbuf();
    EXPECT_EQ(actual, expected.str())
        << "differs from " << path << " (PARLEY_UPDATE_GOLDEN=1 rewrites it; review the diff)";
}

class GoldenTest : public ::testing::TestWithParam<Script> {};

TEST_P(GoldenTest, Anthropic) {
    expect_golden("anthropic_" + GetParam().name + ".sse", anthropic_stream(GetParam()));
}

TEST_P(GoldenTest, OpenAi) {
    expect_golden("openai_" + GetParam().name + ".sse", openai_stream(GetParam()));
}

TEST_P(GoldenTest, WebSocket) {
    expect_golden("websocket_" + GetParam().name + ".jsonl", websocket_lines(GetParam()));
}

// --- structure: what the SDKs rely on -----------------------------------------------------------

class StructureTest : public ::testing::TestWithParam<Script> {};

// Every event is exactly `event: <name>\ndata: <one line of JSON>\n\n`, whatever the deltas hold.
TEST_P(StructureTest, AnthropicFramesEveryEventAlike) {
    const std::string stream = anthropic_stream(GetParam());
    ASSERT_TRUE(stream.ends_with("\n\n"));
    std::size_t pos = 0;
    int events = 0;
    while (pos < stream.size()) {
        const std::size_t end = stream.find("\n\n", pos);
        ASSERT_NE(end, std::string::npos);
        const std::string_view ev(stream.data() + pos, end - pos);
        SCOPED_TRACE(std::string(ev));
        ASSERT_TRUE(ev.starts_with("event: "));
        const std::size_t nl = ev.find('\n');
        ASSERT_NE(nl, std::string_view::npos);
        const std::string_view data = ev.substr(nl + 1);
        ASSERT_TRUE(data.starts_with("data: "));
        EXPECT_EQ(data.find('\n'), std::string_view::npos);
        EXPECT_NO_THROW((void)bj::parse(data.substr(6)));
        pos = end + 2;
        ++events;
    }
    EXPECT_GE(events, 2);
}

// Replays the events the way @anthropic-ai/sdk's MessageStream accumulates them.
TEST_P(StructureTest, AnthropicEventsAccumulateLikeTheSdk) {
    const Script& script = GetParam();
    const std::vector<SseEvent> events = split_sse(anthropic_stream(script));
    ASSERT_FALSE(events.empty());

    std::vector<bj::object> data;
    for (const SseEvent& e : events) {
        const bj::object o = bj::parse(e.data).as_object();
        EXPECT_EQ(o.at("type"), bj::value(e.event)) << e.data;
        data.push_back(o);
    }

    ASSERT_EQ(events.front().event, "message_start");
    const bj::object& message = data.front().at("message").as_object();
    EXPECT_EQ(message.at("id"), "msg_02");
    EXPECT_EQ(message.at("type"), "message");
    EXPECT_EQ(message.at("role"), "assistant");
    EXPECT_TRUE(message.at("content").as_array().empty());
    EXPECT_TRUE(message.at("stop_reason").is_null());
    EXPECT_EQ(message.at("usage").at("input_tokens"), 12);
    EXPECT_EQ(message.at("usage").at("output_tokens"), 0);
    EXPECT_EQ(message.at("parley").at("conversation_id"), "conv_01");
    EXPECT_EQ(message.at("parley").at("user_message_id"), "msg_01");

    std::vector<std::string> block_types;  // content[] as the SDK builds it
    std::vector<std::string> block_text;
    std::int64_t open = -1;
    bool delta_seen = false;
    for (std::size_t i = 1; i < data.size(); ++i) {
        const std::string& name = events[i].event;
        const bj::object& d = data[i];
        SCOPED_TRACE(events[i].data);
        EXPECT_NE(name, "message_start") << "message_start twice";
        EXPECT_FALSE(delta_seen) << "event after message_delta other than message_stop";
        if (name == "content_block_start") {
            ASSERT_EQ(open, -1) << "a block starts while another is open";
            open = d.at("index").as_int64();
            ASSERT_EQ(open, static_cast<std::int64_t>(block_types.size()));
            const bj::object& block = d.at("content_block").as_object();
            const std::string type(block.at("type").as_string());
            block_types.push_back(type);
            ASSERT_TRUE(type == "text" || type == "thinking");
            EXPECT_EQ(block.at(type), "");  // empty shell: deltas are concatenated onto it
            if (type == "thinking") {
                EXPECT_EQ(block.at("signature"), "");
            }
            block_text.emplace_back();
        } else if (name == "content_block_delta") {
            ASSERT_NE(open, -1) << "delta outside a block";
            ASSERT_EQ(d.at("index"), open);
            const bj::object& delta = d.at("delta").as_object();
            const std::string& type = block_types.back();
            ASSERT_EQ(delta.at("type"), bj::value(type + "_delta"));
            block_text.back() += std::string(delta.at(type).as_string());
        } else if (name == "content_block_stop") {
            ASSERT_NE(open, -1) << "stop outside a block";
            EXPECT_EQ(d.at("index"), open);
            open = -1;
        } else if (name == "message_delta") {
            EXPECT_EQ(open, -1) << "message_delta with a block open";
            EXPECT_TRUE(d.at("delta").at("stop_reason").is_string());
            EXPECT_TRUE(d.at("usage").at("output_tokens").is_int64());
            EXPECT_EQ(d.at("usage").at("output_tokens"), script.end.reply.output_tokens);
            EXPECT_EQ(d.at("parley").at("status"), bj::value(script.end.reply.status));
            delta_seen = true;
            ASSERT_EQ(i + 2, data.size()) << "message_delta is not followed by message_stop alone";
            EXPECT_EQ(events[i + 1].event, "message_stop");
            break;
        } else if (name == "error") {
            ASSERT_TRUE(script.end.error_type.has_value());
            EXPECT_EQ(d.at("error").at("type"), bj::value(*script.end.error_type));
            EXPECT_EQ(d.at("error").at("message"), bj::value(script.end.error_message));
            EXPECT_EQ(d.at("parley").at("status"), bj::value(script.end.reply.status));
            EXPECT_EQ(i + 1, data.size()) << "events after the error";
        } else {
            EXPECT_EQ(name, "ping");
        }
    }

    std::string thinking;
    std::string text;
    for (std::size_t b = 0; b < block_types.size(); ++b) {
        (block_types[b] == "thinking" ? thinking : text) += block_text[b];
    }
    EXPECT_EQ(thinking, script.all(Step::Kind::thinking));
    EXPECT_EQ(text, script.all(Step::Kind::text));
    if (script.end.error_type) {
        EXPECT_EQ(events.back().event, "error");
    } else {
        EXPECT_EQ(events.back().event, "message_stop");
        EXPECT_NE(std::find(block_types.begin(), block_types.end(), "text"), block_types.end())
            << "finalText() needs a text block";
    }
}

// Replays the chunks the way openai's ChatCompletionStream accumulates them.
TEST_P(StructureTest, OpenAiChunksAccumulateLikeTheSdk) {
    const Script& script = GetParam();
    const std::string stream = openai_stream(script);
    EXPECT_FALSE(stream.starts_with("event:"));
    EXPECT_EQ(stream.find("\nevent:"), std::string::npos);
    const std::vector<SseEvent> events = split_sse(stream);
    ASSERT_GE(events.size(), 2U);

    const bool failed = script.end.error_type.has_value();
    const std::size_t chunks = failed ? events.size() - 1 : events.size() - 2;
    std::string content;
    std::string reasoning;
    int finish_reasons = 0;
    for (std::size_t i = 0; i < chunks; ++i) {
        SCOPED_TRACE(events[i].data);
        const bj::object chunk = bj::parse(events[i].data).as_object();
        EXPECT_EQ(chunk.at("id"), "chatcmpl-msg_02");
        EXPECT_EQ(chunk.at("object"), "chat.completion.chunk");
        EXPECT_EQ(chunk.at("created"), 1764072000);
        EXPECT_EQ(chunk.at("model"), "claude-sonnet-4-5");
        EXPECT_FALSE(chunk.contains("error"));
        const bj::array& choices = chunk.at("choices").as_array();
        ASSERT_EQ(choices.size(), 1U);
        EXPECT_TRUE(chunk.at("usage").is_null());
        const bj::object& choice = choices[0].as_object();
        EXPECT_EQ(choice.at("index"), 0);
        const bj::object& delta = choice.at("delta").as_object();
        if (i == 0) {
            EXPECT_EQ(delta.at("role"), "assistant");
        } else {
            EXPECT_FALSE(delta.contains("role"));
        }
        if (const auto* c = delta.if_contains("content")) {
            content += std::string(c->as_string());
        }
        if (const auto* r = delta.if_contains("reasoning")) {
            EXPECT_FALSE(delta.contains("content"));
            reasoning += std::string(r->as_string());
        }
        if (!choice.at("finish_reason").is_null()) {
            ++finish_reasons;
            EXPECT_TRUE(delta.empty());
        }
    }
    EXPECT_EQ(content, script.all(Step::Kind::text));
    EXPECT_EQ(reasoning, script.all(Step::Kind::thinking));

    if (failed) {
        EXPECT_EQ(finish_reasons, 0);
        const bj::object last = bj::parse(events.back().data).as_object();
        EXPECT_EQ(last.at("error").at("type"), bj::value(*script.end.error_type));
        EXPECT_EQ(last.at("error").at("message"), bj::value(script.end.error_message));
        EXPECT_TRUE(last.at("error").at("code").is_null());
        EXPECT_EQ(last.at("parley").at("status"), bj::value(script.end.reply.status));
        EXPECT_EQ(stream.find("[DONE]"), std::string::npos);
        return;
    }
    EXPECT_EQ(finish_reasons, 1);
    const bj::object usage_chunk = bj::parse(events[events.size() - 2].data).as_object();
    EXPECT_EQ(usage_chunk.at("id"), "chatcmpl-msg_02");
    EXPECT_EQ(usage_chunk.at("created"), 1764072000);
    EXPECT_TRUE(usage_chunk.at("choices").as_array().empty());
    const bj::object& usage = usage_chunk.at("usage").as_object();
    EXPECT_EQ(usage.at("prompt_tokens"), script.end.reply.input_tokens);
    EXPECT_EQ(usage.at("completion_tokens"), script.end.reply.output_tokens);
    EXPECT_EQ(
        usage.at("total_tokens"), script.end.reply.input_tokens + script.end.reply.output_tokens
    );
    EXPECT_EQ(usage_chunk.at("parley").at("message_id"), "msg_02");
    EXPECT_EQ(events.back().data, "[DONE]");
    EXPECT_TRUE(stream.ends_with("data: [DONE]\n\n"));
}

TEST_P(StructureTest, WebSocketFramesCarryDeltasThenOneEnd) {
    const Script& script = GetParam();
    const std::vector<std::string> frames = ws_frames(script);
    ASSERT_FALSE(frames.empty());
    std::string content;
    std::string thinking;
    for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
        const bj::object f = bj::parse(frames[i]).as_object();
        EXPECT_EQ(f.size(), 2U) << frames[i];
        if (f.at("type") == "token") {
            content += std::string(f.at("content").as_string());
        } else {
            EXPECT_EQ(f.at("type"), "thinking");
            thinking += std::string(f.at("content").as_string());
        }
    }
    EXPECT_EQ(content, script.all(Step::Kind::text));
    EXPECT_EQ(thinking, script.all(Step::Kind::thinking));

    const bj::object last = bj::parse(frames.back()).as_object();
    const store::Message& reply = script.end.reply;
    if (script.end.error_type) {
        EXPECT_EQ(last.at("type"), "error");
        EXPECT_EQ(last.at("content"), bj::value(script.end.error_message));
        EXPECT_EQ(last.at("error_type"), bj::value(*script.end.error_type));
        EXPECT_EQ(last.at("message").at("id"), "msg_02");
        EXPECT_EQ(last.at("message").at("status"), bj::value(reply.status));
        return;
    }
    EXPECT_EQ(last.at("type"), "done");
    EXPECT_EQ(last.at("message_id"), "msg_02");
    EXPECT_EQ(last.at("id"), "msg_02");
    EXPECT_EQ(last.at("conversation_id"), "conv_01");
    EXPECT_EQ(last.at("content"), bj::value(reply.content));
    EXPECT_EQ(last.at("status"), "complete");
    EXPECT_EQ(last.at("metadata").at("output_tokens"), reply.output_tokens);
}

std::string script_name(const ::testing::TestParamInfo<Script>& info) {
    return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Streams, GoldenTest, ::testing::ValuesIn(scripts()), script_name);
INSTANTIATE_TEST_SUITE_P(Streams, StructureTest, ::testing::ValuesIn(scripts()), script_name);

// --- the small pieces ---------------------------------------------------------------------------

TEST(StreamFormatTest, PingPerFormat) {
    auto anthropic = make_anthropic_encoder();
    (void)anthropic->start(sample_start());
    EXPECT_EQ(anthropic->ping(), "event: ping\ndata: {\"type\":\"ping\"}\n\n");
    auto openai = make_openai_encoder();
    (void)openai->start(sample_start());
    EXPECT_EQ(openai->ping(), ": ping\n\n");
    auto ws = make_websocket_encoder();
    EXPECT_EQ(ws->start(sample_start()), "");
    EXPECT_EQ(ws->ping(), "");
}

// A delta's string given back is written into by a later delta (the relay gives each back once
// written): the same bytes as from a fresh encoder, in the buffer given back; one past a delta's
// size is not kept.
TEST(StreamFormatTest, OpenAiDeltasReuseAStringGivenBack) {
    auto fresh = make_openai_encoder();
    (void)fresh->start(sample_start());
    auto enc = make_openai_encoder();
    (void)enc->start(sample_start());
    std::string first = enc->text("Hello");
    EXPECT_EQ(first, fresh->text("Hello"));
    const char* buffer = first.data();
    enc->recycle(std::move(first));
    const std::string second = enc->text(" \"wo\"");  // escapes within the first's room
    EXPECT_EQ(second, fresh->text(" \"wo\""));
    EXPECT_EQ(second.data(), buffer);
    std::string thinking = enc->thinking("hmm");
    EXPECT_EQ(thinking, fresh->thinking("hmm"));

    std::string large(4096, 'x');
    const char* large_buffer = large.data();
    enc->recycle(std::move(large));
    const std::string third = enc->text("!");
    EXPECT_EQ(third, fresh->text("!"));
    EXPECT_NE(third.data(), large_buffer);
}

TEST(StreamFormatTest, ContentTypes) {
    EXPECT_EQ(make_anthropic_encoder()->content_type(), "text/event-stream; charset=utf-8");
    EXPECT_EQ(make_openai_encoder()->content_type(), "text/event-stream; charset=utf-8");
    EXPECT_EQ(make_websocket_encoder()->content_type(), "");
}

TEST(StreamFormatTest, AnthropicStopReasons) {
    EXPECT_EQ(anthropic_stop_reason("stop"), "end_turn");
    EXPECT_EQ(anthropic_stop_reason("length"), "max_tokens");
    EXPECT_EQ(anthropic_stop_reason("tool_use"), "tool_use");
    EXPECT_EQ(anthropic_stop_reason("content_filter"), "refusal");
    EXPECT_EQ(anthropic_stop_reason("cancelled"), "end_turn");
    EXPECT_EQ(anthropic_stop_reason(""), "end_turn");
}

TEST(StreamFormatTest, OpenAiFinishReasons) {
    EXPECT_EQ(openai_finish_reason("stop"), "stop");
    EXPECT_EQ(openai_finish_reason("length"), "length");
    EXPECT_EQ(openai_finish_reason("tool_use"), "tool_calls");
    EXPECT_EQ(openai_finish_reason("content_filter"), "content_filter");
    EXPECT_EQ(openai_finish_reason("error"), "stop");
    EXPECT_EQ(openai_finish_reason(""), "stop");
}

// A delta that is all framing characters stays one data line.
TEST(StreamFormatTest, AnthropicDeltaCannotEndTheEvent) {
    auto encoder = make_anthropic_encoder();
    (void)encoder->start(sample_start());
    const std::string out = encoder->text("\n\n\r\r\r\n\r\n");
    const std::vector<SseEvent> events = split_sse(out);
    ASSERT_EQ(events.size(), 2U);  // content_block_start, content_block_delta
    EXPECT_EQ(bj::parse(events[1].data).at("delta").at("text"), "\n\n\r\r\r\n\r\n");
    EXPECT_EQ(out.find('\r'), std::string::npos);
}

}  // namespace
}  // namespace parley::messages

namespace parley::messages {
namespace {

StreamEnd complete_end() {
    StreamEnd end;
    end.reply.id = "m1";
    end.reply.status = "complete";
    end.reply.finish_reason = "stop";
    return end;
}

TEST(StreamFormatToolsTest, AnthropicToolUseBlockThenParleysResultEventThenANewTextBlock) {
    auto enc = make_anthropic_encoder();
    std::string out = enc->start(sample_start());
    out += enc->text("Let me look.");
    out += enc->tool_call("toolu_1", "calculator", R"({"expression":"1+1"})");
    out += enc->tool_result("toolu_1", "calculator", R"({"result":2})", true);
    out += enc->text("It is 2.");
    out += enc->finish(complete_end());
    const auto events = llm::testing::split_sse(out);
    std::vector<std::string> names;
    for (const auto& e : events) {
        names.push_back(e.event);
        EXPECT_EQ(bj::parse(e.data).as_object().at("type").as_string(), e.event) << e.data;
    }
    const std::vector<std::string> want = {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "tool_result",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop"};
    EXPECT_EQ(names, want);
    const auto block = bj::parse(events[4].data).as_object();
    EXPECT_EQ(block.at("index").as_int64(), 1);
    EXPECT_EQ(block.at("content_block").as_object().at("type").as_string(), "tool_use");
    EXPECT_EQ(block.at("content_block").as_object().at("id").as_string(), "toolu_1");
    const auto delta = bj::parse(events[5].data).as_object().at("delta").as_object();
    EXPECT_EQ(delta.at("type").as_string(), "input_json_delta");
    EXPECT_EQ(delta.at("partial_json").as_string(), R"({"expression":"1+1"})");
    const auto result = bj::parse(events[7].data).as_object();
    EXPECT_EQ(result.at("tool_use_id").as_string(), "toolu_1");
    EXPECT_EQ(result.at("result").as_object().at("result").as_int64(), 2);
    EXPECT_FALSE(result.at("is_error").as_bool());
    EXPECT_EQ(bj::parse(events[8].data).as_object().at("index").as_int64(), 2) << "a new block";
}

TEST(StreamFormatToolsTest, OpenAiToolCallDeltasAreIndexedAndResultsAreNotInTheFormat) {
    auto enc = make_openai_encoder();
    (void)enc->start(sample_start());
    const auto first = split_sse(enc->tool_call("call_1", "calculator", R"({"expression":"2*3"})"));
    const auto second = split_sse(enc->tool_call("call_2", "current_time", "{}"));
    ASSERT_EQ(first.size(), 1U);
    ASSERT_EQ(second.size(), 1U);
    const auto call = bj::parse(first[0].data)
                          .as_object()
                          .at("choices")
                          .as_array()[0]
                          .as_object()
                          .at("delta")
                          .as_object()
                          .at("tool_calls")
                          .as_array()[0]
                          .as_object();
    EXPECT_EQ(call.at("index").as_int64(), 0);
    EXPECT_EQ(call.at("id").as_string(), "call_1");
    EXPECT_EQ(call.at("type").as_string(), "function");
    EXPECT_EQ(call.at("function").as_object().at("name").as_string(), "calculator");
    EXPECT_EQ(
        call.at("function").as_object().at("arguments").as_string(), R"({"expression":"2*3"})"
    );
    const auto next = bj::parse(second[0].data).as_object().at("choices").as_array()[0];
    EXPECT_EQ(next.at("delta").at("tool_calls").as_array()[0].at("index").as_int64(), 1);
    EXPECT_EQ(enc->tool_result("call_1", "calculator", "{}", true), "");
}

TEST(StreamFormatToolsTest, WebSocketFramesAreTheSeeds) {
    auto enc = make_websocket_encoder();
    const auto call =
        bj::parse(enc->tool_call("c1", "fetch_internal_knowledge", R"({"topic":"python"})"));
    EXPECT_EQ(call.at("type").as_string(), "tool_call");
    EXPECT_EQ(call.at("tool").as_string(), "fetch_internal_knowledge");
    EXPECT_EQ(call.at("arguments").at("topic").as_string(), "python");
    const auto result =
        bj::parse(enc->tool_result("c1", "fetch_internal_knowledge", R"({"content":"x"})", false));
    EXPECT_EQ(result.at("type").as_string(), "tool_result");
    EXPECT_EQ(result.at("result").at("content").as_string(), "x");
    EXPECT_FALSE(result.at("ok").as_bool());
}

TEST(StreamFormatToolsTest, PlainTextSaysNothingOfToolsNdjsonHasTheCallChunk) {
    auto text = make_text_encoder();
    EXPECT_EQ(text->tool_call("c", "t", "{}"), "");
    EXPECT_EQ(text->tool_result("c", "t", "{}", true), "");
    auto ndjson = make_openai_ndjson_encoder();
    (void)ndjson->start(sample_start());
    const auto line = ndjson->tool_call("c", "t", "{}");
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(
        bj::parse(line)
            .at("choices")
            .as_array()[0]
            .at("delta")
            .at("tool_calls")
            .as_array()[0]
            .at("id")
            .as_string(),
        "c"
    );
    EXPECT_EQ(ndjson->tool_result("c", "t", "{}", true), "");
}

}  // namespace
}  // namespace parley::messages
