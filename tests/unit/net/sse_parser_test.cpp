#include "net/sse_parser.hpp"

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "support/recorded_streams.hpp"

namespace parley::net {

// gtest prints an event this way when an assertion fails.
void PrintTo(const SseEvent& e, std::ostream* os) {  // NOLINT(readability-identifier-naming)
    *os << "{event=" << ::testing::PrintToString(e.event)
        << " data=" << ::testing::PrintToString(e.data) << " id=" << ::testing::PrintToString(e.id)
        << " named=" << e.named << "}";
}

namespace {

using testing::recorded::kAnthropic;
using testing::recorded::kGeminiLf;
using testing::recorded::kOpenAi;
using testing::recorded::to_crlf;

constexpr std::size_t kChunk = std::size_t{64} << 10;  // a large socket read

using namespace std::string_view_literals;

// --- recordings
// -----------------------------------------------------------------------------------

// --- helpers
// --------------------------------------------------------------------------------------

SseEvent named(std::string event, std::string data, std::string id = "") {
    return SseEvent{std::move(event), std::move(data), std::move(id), true};
}

SseEvent message(std::string data, std::string id = "") {
    return SseEvent{"message", std::move(data), std::move(id), false};
}

// Everything a parser reports after a whole stream.
struct Outcome {
    std::vector<SseEvent> events;
    std::size_t comments = 0;
    bool partial = false;
    std::string last_event_id;
    std::optional<int> retry_ms;
    bool failed = false;

    bool operator==(const Outcome&) const = default;
};

void PrintTo(const Outcome& o, std::ostream* os) {  // NOLINT(readability-identifier-naming)
    *os << ::testing::PrintToString(o.events) << " comments=" << o.comments
        << " partial=" << o.partial
        << " last_event_id=" << ::testing::PrintToString(o.last_event_id)
        << " retry=" << (o.retry_ms ? std::to_string(*o.retry_ms) : "none")
        << " failed=" << o.failed;
}

Outcome run(const std::vector<std::string_view>& pieces) {
    SseParser parser;
    Outcome o;
    for (const auto piece : pieces) {
        for (auto& e : parser.feed(piece)) {
            o.events.push_back(std::move(e));
        }
    }
    o.comments = parser.comments();
    o.partial = parser.has_partial();
    o.last_event_id = parser.last_event_id();
    o.retry_ms = parser.retry_ms();
    o.failed = parser.failed();
    return o;
}

std::vector<SseEvent> parse(std::string_view stream) {
    return run({stream}).events;
}

// Feeds `stream` whole, then as (prefix, suffix) for every prefix length, then byte by byte, and
// checks that every way gives the same outcome, whose events are `expected`.
void expect_same_at_every_split(std::string_view stream, const std::vector<SseEvent>& expected) {
    const Outcome whole = run({stream});
    ASSERT_EQ(whole.events, expected);
    ASSERT_FALSE(whole.failed);
    for (std::size_t k = 0; k <= stream.size(); ++k) {
        ASSERT_EQ(run({stream.substr(0, k), stream.substr(k)}), whole) << "split at byte " << k;
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < stream.size(); ++i) {
        bytes.push_back(stream.substr(i, 1));
    }
    ASSERT_EQ(run(bytes), whole) << "byte by byte";
}

// --- recorded streams
// -----------------------------------------------------------------------------

TEST(SseParserTest, AnthropicStreamAtEverySplit) {
    const std::vector<SseEvent> expected = {
        named(
            "message_start",
            R"({"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}})"
        ),
        named(
            "content_block_start",
            R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
        ),
        named("ping", R"({"type": "ping"})"),
        named(
            "content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})"
        ),
        named(
            "content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}})"
        ),
        named("content_block_stop", R"({"type":"content_block_stop","index":0})"),
        named(
            "message_delta",
            R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":6}})"
        ),
        named("message_stop", R"({"type":"message_stop"})"),
    };
    expect_same_at_every_split(kAnthropic, expected);
    const Outcome o = run({kAnthropic});
    EXPECT_FALSE(o.partial);
    EXPECT_EQ(o.comments, 0U);
}

TEST(SseParserTest, OpenAiStreamAtEverySplit) {
    const std::string prefix =
        R"({"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":)";
    const std::vector<SseEvent> expected = {
        message(
            prefix +
            R"([{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null})"
        ),
        message(
            prefix +
            R"([{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null})"
        ),
        message(
            prefix +
            R"([{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}],"usage":null})"
        ),
        message(
            prefix +
            R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})"
        ),
        message(
            prefix + R"([],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}})"
        ),
        message("[DONE]"),
    };
    expect_same_at_every_split(kOpenAi, expected);
}

TEST(SseParserTest, GeminiCrlfStreamAtEverySplit) {
    const std::string stream = to_crlf(kGeminiLf);
    ASSERT_NE(stream.find("}\r\n\r\ndata: "), std::string::npos);
    const std::vector<SseEvent> expected = {
        message(
            R"({"candidates": [{"content": {"parts": [{"text": "¡Hola"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8},"modelVersion": "gemini-2.0-flash"})"
        ),
        message(
            R"({"candidates": [{"content": {"parts": [{"text": "! 👋 ¿Qué tal?"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8},"modelVersion": "gemini-2.0-flash"})"
        ),
        message(
            R"({"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 9,"totalTokenCount": 17},"modelVersion": "gemini-2.0-flash"})"
        ),
    };
    expect_same_at_every_split(stream, expected);
}

// Every pair of split points over a short stream holding each hard case at once: a BOM, all three
// line ends (CR then LF split across feeds included), a multi-byte character, a comment, id and
// retry fields.
TEST(SseParserTest, TrickyStreamAtEveryPairOfSplits) {
    const std::string stream =
        "\xEF\xBB\xBF: hi\r\nid: 7\revent: a\r\ndata: \xC3\xA9\xF0\x9F\x98\x80\n"
        "data:x\r\r\nretry: 25\n\ndata\r\n\r";
    const Outcome whole = run({stream});
    const std::vector<SseEvent> expected = {
        named("a", "\xC3\xA9\xF0\x9F\x98\x80\nx", "7"),
        message("", "7"),
    };
    ASSERT_EQ(whole.events, expected);
    EXPECT_EQ(whole.comments, 1U);
    EXPECT_EQ(whole.retry_ms, 25);
    const std::string_view s = stream;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        for (std::size_t j = i; j <= s.size(); ++j) {
            ASSERT_EQ(run({s.substr(0, i), s.substr(i, j - i), s.substr(j)}), whole)
                << "splits at " << i << " and " << j;
        }
    }
}

// --- fields and lines
// -----------------------------------------------------------------------------

// A `data:` line followed at once by a blank line is taken whole when a read holds it (the common
// event of a provider's stream); split reads and byte-by-byte feeds take the general path. Around
// it: fields pending before a data line, ids, comments, a lone CR, CRLF, empty data, malformed
// UTF-8 and an unnamed event after a named one must come out the same either way.
TEST(SseParserTest, OneLineDataEventsMatchTheGeneralPath) {
    const std::string stream =
        "data: {\"a\":1}\n\n"
        ": keep-alive\n"
        "data:no space\n\n"
        "id: 7\n"
        "data: after an id\n\n"
        "data: the id carries\n\n"
        "event: named\n"
        "data: named one\n\n"
        "data: unnamed again\n\n"
        "data:\n\n"
        "data: bad \xC3\x28 byte\n\n"
        "data: crlf\r\n\r\n"
        "data: lone cr\r\r"
        "data: two\ndata: lines\n\n"
        "data: last\n\n";
    expect_same_at_every_split(
        stream,
        {message(R"({"a":1})"),
         message("no space"),
         message("after an id", "7"),
         message("the id carries", "7"),
         named("named", "named one", "7"),
         message("unnamed again", "7"),
         message("", "7"),
         message("bad \xEF\xBF\xBD( byte", "7"),
         message("crlf", "7"),
         message("lone cr", "7"),
         message("two\nlines", "7"),
         message("last", "7")}
    );
}

TEST(SseParserTest, DataLinesAreJoinedWithLf) {
    EXPECT_EQ(parse("data: a\ndata: b\ndata:\ndata: c\n\n"), std::vector{message("a\nb\n\nc")});
    EXPECT_EQ(
        parse("data: {\ndata:   \"k\": 1\ndata: }\n\n"), std::vector{message("{\n  \"k\": 1\n}")}
    );
}

TEST(SseParserTest, OnlyTheFinalLfIsStripped) {
    EXPECT_EQ(parse("data:\ndata:\n\n"), std::vector{message("\n")});
    EXPECT_EQ(parse("data: a\ndata:\n\n"), std::vector{message("a\n")});
    EXPECT_EQ(parse("data: a \n\n"), std::vector{message("a ")});  // trailing space kept
}

TEST(SseParserTest, CommentsAreCountedNotDispatched) {
    SseParser parser;
    EXPECT_TRUE(parser.feed(": ping\n\n:\n:keep-alive\r\n\r\n").empty());
    EXPECT_EQ(parser.comments(), 3U);
    EXPECT_FALSE(parser.has_partial());
    // A comment inside an event neither ends nor alters it.
    EXPECT_EQ(parser.feed("data: a\n: ping\ndata: b\n\n"), std::vector{message("a\nb")});
    EXPECT_EQ(parser.comments(), 4U);
}

TEST(SseParserTest, CrLfAndCrLfMixedLineEnds) {
    EXPECT_EQ(
        parse("data: a\rdata: b\r\rdata: c\r\r"), (std::vector{message("a\nb"), message("c")})
    );
    EXPECT_EQ(parse("data: a\r\ndata: b\r\n\r\n"), std::vector{message("a\nb")});
    EXPECT_EQ(
        parse("event: e\r\ndata: 1\rdata: 2\n\r\ndata: 3\n\r"),
        (std::vector{named("e", "1\n2"), message("3")})
    );
    // CR LF is one line end, LF CR is two.
    EXPECT_EQ(parse("data: a\n\rdata: b\n\n"), (std::vector{message("a"), message("b")}));
}

TEST(SseParserTest, CrAtTheEndOfAFeedThenLfIsOneLineEnd) {
    SseParser parser;
    EXPECT_TRUE(parser.feed("data: a\r").empty());
    // Were the LF taken as a second line end, this blank line would dispatch "a" alone.
    EXPECT_TRUE(parser.feed("\ndata: b\r").empty());
    EXPECT_EQ(parser.feed("\n\r"), std::vector{message("a\nb")});
    EXPECT_FALSE(parser.has_partial());
    // The LF of the blank line's CRLF: not another blank line, which would be harmless here, but
    // would end an event early had a field come first.
    EXPECT_TRUE(parser.feed("\ndata: c").empty());
    EXPECT_TRUE(parser.feed("\r").empty());
    EXPECT_TRUE(parser.feed("\n").empty());
    EXPECT_TRUE(parser.has_partial());
    EXPECT_EQ(parser.feed("data: d\r\n\r\n"), std::vector{message("c\nd")});
}

TEST(SseParserTest, OneSpaceAfterTheColonIsStripped) {
    EXPECT_EQ(parse("data:x\n\n"), std::vector{message("x")});
    EXPECT_EQ(parse("data: x\n\n"), std::vector{message("x")});
    EXPECT_EQ(parse("data:  x\n\n"), std::vector{message(" x")});
    EXPECT_EQ(parse("data:\tx\n\n"), std::vector{message("\tx")});     // only a space
    EXPECT_EQ(parse("data: a: b\n\n"), std::vector{message("a: b")});  // the first colon splits
    EXPECT_EQ(parse("event:  e\ndata: x\n\n"), std::vector{named(" e", "x")});
}

TEST(SseParserTest, LineWithoutColonIsFieldWithEmptyValue) {
    // "data" alone appends "" and then "\n": the data buffer is not empty, so the event is
    // dispatched, with empty data once the final "\n" is stripped.
    EXPECT_EQ(parse("data\n\n"), std::vector{message("")});
    EXPECT_EQ(parse("data\ndata\n\n"), std::vector{message("\n")});
    EXPECT_EQ(parse("event: e\nevent\ndata: x\n\n"), std::vector{message("x")});
    EXPECT_EQ(parse("data \n\n"), std::vector<SseEvent>{});  // field "data " is unknown
}

TEST(SseParserTest, EmptyDataIsDispatchedButNoDataIsNot) {
    EXPECT_EQ(parse("data:\n\n"), std::vector{message("")});
    EXPECT_EQ(parse("data: \n\n"), std::vector{message("")});
    EXPECT_EQ(parse("\n\n\r\n\r"), std::vector<SseEvent>{});
    EXPECT_EQ(parse("event: e\n\n"), std::vector<SseEvent>{});
    EXPECT_EQ(parse("id: 1\nretry: 5\nfoo: bar\n\n"), std::vector<SseEvent>{});
}

TEST(SseParserTest, EventTypeDefaultsToMessageAndResetsAfterEachBlock) {
    EXPECT_EQ(
        parse("event: a\ndata: 1\n\ndata: 2\n\nevent: b\n\ndata: 3\n\nevent:\ndata: 4\n\n"),
        (std::vector{named("a", "1"), message("2"), message("3"), message("4")})
    );
    // A stream may name an event "message": the name then counts as given.
    EXPECT_EQ(parse("event: message\ndata: x\n\n"), std::vector{named("message", "x")});
    EXPECT_EQ(parse("event: a\nevent: b\ndata: x\n\n"), std::vector{named("b", "x")});
}

TEST(SseParserTest, UnknownFieldsAreIgnored) {
    EXPECT_EQ(
        parse("foo: bar\nData: no\nDATA: no\ndata : no\n data: no\ndata: yes\n\n"),
        std::vector{message("yes")}
    );
}

TEST(SseParserTest, IdPersistsUntilChanged) {
    SseParser parser;
    EXPECT_EQ(
        parser.feed("id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n"),
        (std::vector{message("a", "1"), message("b", "1"), message("c", "2")})
    );
    EXPECT_EQ(parser.last_event_id(), "2");
    // An empty id resets it.
    EXPECT_EQ(parser.feed("id\ndata: d\n\n"), std::vector{message("d")});
    EXPECT_EQ(parser.last_event_id(), "");
    EXPECT_EQ(parser.feed("id:\xC3\xA9 x\ndata: e\n\n"), std::vector{message("e", "\xC3\xA9 x")});
}

TEST(SseParserTest, IdWithNulIsIgnored) {
    SseParser parser;
    EXPECT_EQ(parser.feed("id: 1\n\nid: 2\0x\ndata: a\n\n"sv), std::vector{message("a", "1")});
    EXPECT_EQ(parser.last_event_id(), "1");
    // NUL elsewhere is ordinary data.
    EXPECT_EQ(parser.feed("data: \0\n\n"sv), std::vector{message(std::string(1, '\0'), "1")});
}

TEST(SseParserTest, IdIsCommittedByTheBlankLineEvenWithoutData) {
    SseParser parser;
    EXPECT_TRUE(parser.feed("id: 5\n").empty());
    EXPECT_EQ(parser.last_event_id(), "");  // still only in the buffer
    EXPECT_TRUE(parser.feed("\n").empty());
    EXPECT_EQ(parser.last_event_id(), "5");
    EXPECT_EQ(parser.feed("data: x\n\n"), std::vector{message("x", "5")});
}

TEST(SseParserTest, RetryTakesAsciiDigitsOnly) {
    const auto retry = [](std::string_view stream) {
        return run({stream}).retry_ms;
    };
    EXPECT_EQ(retry("retry: 3000\n"), 3000);
    EXPECT_EQ(retry("retry:0\n"), 0);
    EXPECT_EQ(retry("retry: 2147483647\n"), 2147483647);
    EXPECT_EQ(retry("retry: 1000\nretry: 3s\nretry: -1\nretry: +5\nretry:  7\nretry: 1.5\n"), 1000);
    EXPECT_EQ(retry("retry:\nretry\n"), std::nullopt);
    EXPECT_EQ(retry("retry: 2147483648\n"), std::nullopt);  // does not fit an int: ignored
    EXPECT_EQ(retry("retry: 99999999999999999999\n"), std::nullopt);
    EXPECT_EQ(retry("retry: 10\n"), 10);  // needs no blank line, unlike an id
}

// --- encoding
// -------------------------------------------------------------------------------------

TEST(SseParserTest, LeadingBomIsSkipped) {
    EXPECT_EQ(
        parse("\xEF\xBB\xBF"
              "data: x\n\n"),
        std::vector{message("x")}
    );
    // Only one, only at the very start: a second BOM is part of the first field's name.
    EXPECT_EQ(
        parse("\xEF\xBB\xBF\xEF\xBB\xBF"
              "data: x\n\n"),
        std::vector<SseEvent>{}
    );
    EXPECT_EQ(
        parse("data: a\n\n\xEF\xBB\xBF"
              "data: b\n\n"),
        std::vector{message("a")}
    );
    EXPECT_EQ(parse("data: \xEF\xBB\xBFx\n\n"), std::vector{message("\xEF\xBB\xBFx")});
}

TEST(SseParserTest, BomSplitAcrossFeeds) {
    SseParser parser;
    EXPECT_TRUE(parser.feed("\xEF").empty());
    EXPECT_TRUE(parser.has_partial());
    EXPECT_TRUE(parser.feed("").empty());
    EXPECT_TRUE(parser.feed("\xBB").empty());
    EXPECT_TRUE(parser.feed("\xBF").empty());
    EXPECT_FALSE(parser.has_partial());
    EXPECT_EQ(parser.feed("data: x\n\n"), std::vector{message("x")});
}

TEST(SseParserTest, IncompleteBomIsText) {
    SseParser parser;
    EXPECT_TRUE(parser.feed("\xEF\xBB").empty());
    // The two bytes begin a line of their own, an unknown field; nothing is lost or skipped.
    EXPECT_EQ(parser.feed("\ndata: x\n\n"), std::vector{message("x")});
    SseParser other;
    EXPECT_TRUE(other.feed("\xEF").empty());
    EXPECT_EQ(other.feed(":c\n\n"), std::vector<SseEvent>{});
    EXPECT_EQ(other.comments(), 0U);  // "\xEF:c" is a field, not a comment
}

TEST(SseParserTest, MultiByteCharacterSplitAcrossFeedsArrivesIntact) {
    const std::string stream = "data: h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80!\n\n";
    expect_same_at_every_split(stream, {message("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80!")});
}

TEST(SseParserTest, MalformedUtf8BecomesReplacementCharacters) {
    const std::string r = "\xEF\xBF\xBD";  // U+FFFD
    const auto data = [](std::string_view line) {
        const auto events = parse(std::string(line) + "\n\n");
        return events.size() == 1 ? events.front().data : std::string("<no event>");
    };
    EXPECT_EQ(
        data("data: a\xFF"
             "b"),
        "a" + r + "b"
    );
    EXPECT_EQ(data("data: \xF0\x9F\x98"), r);                  // truncated: one U+FFFD
    EXPECT_EQ(data("data: \xF0\x9F\x98x"), r + "x");           // the byte that ends it is kept
    EXPECT_EQ(data("data: \xE0\x80\xAF"), r + r + r);          // overlong: lead, then each byte
    EXPECT_EQ(data("data: \xED\xA0\x80"), r + r + r);          // surrogate
    EXPECT_EQ(data("data: \xF4\x90\x80\x80"), r + r + r + r);  // past U+10FFFF
    EXPECT_EQ(data("data: \xC0\xAF"), r + r);
    EXPECT_EQ(data("data: \x80\xC3\xA9"), r + "\xC3\xA9");
    EXPECT_EQ(data("data: \xC3\ndata: \xA9"), r + "\n" + r);  // a line end ends a sequence
    EXPECT_EQ(parse("event: \xFF\ndata: x\n\n"), std::vector{named(r, "x")});
}

// --- end of stream
// --------------------------------------------------------------------------------

TEST(SseParserTest, TrailingEventWithoutBlankLineIsNotDispatched) {
    SseParser parser;
    EXPECT_EQ(parser.feed("data: a\n\nid: 9\ndata: b\n"), std::vector{message("a")});
    EXPECT_TRUE(parser.has_partial());
    EXPECT_TRUE(parser.finish());
    EXPECT_FALSE(parser.has_partial());
    EXPECT_EQ(parser.last_event_id(), "");  // the discarded event's id was never committed

    SseParser unterminated;
    EXPECT_TRUE(unterminated.feed("data: a").empty());
    EXPECT_TRUE(unterminated.has_partial());
    EXPECT_TRUE(unterminated.finish());

    SseParser clean;
    EXPECT_EQ(clean.feed("data: a\n\n: ping\n"), std::vector{message("a")});
    EXPECT_FALSE(clean.has_partial());
    EXPECT_FALSE(clean.finish());
}

TEST(SseParserTest, FinishThenANewStream) {
    SseParser parser;
    EXPECT_EQ(parser.feed("id: 4\nretry: 10\ndata: a\n\ndata: b"), std::vector{message("a", "4")});
    EXPECT_TRUE(parser.finish());
    // The reconnection's stream may start with its own BOM; id and retry carry over.
    EXPECT_EQ(
        parser.feed("\xEF\xBB\xBF"
                    "data: c\n\n"),
        std::vector{message("c", "4")}
    );
    EXPECT_EQ(parser.retry_ms(), 10);
    EXPECT_EQ(parser.last_event_id(), "4");
}

// --- limits
// ---------------------------------------------------------------------------------------

// Deterministic pseudo-random bytes (xorshift), so a failure reproduces.
std::string garbage(std::size_t size, bool with_line_ends) {
    std::string out(size, '\0');
    std::uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (auto& c : out) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x & 0xFF);
        if (!with_line_ends && (c == '\n' || c == '\r')) {
            c = 'x';
        }
    }
    return out;
}

TEST(SseParserTest, OversizedLineFailsOnTenMebibytesOfGarbage) {
    const std::string input = garbage(10U << 20, false);
    const std::string_view view = input;
    SseParser parser;
    std::size_t fed = 0;
    for (; fed < view.size() && !parser.failed(); fed += kChunk) {
        EXPECT_TRUE(parser.feed(view.substr(fed, kChunk)).empty());
    }
    EXPECT_TRUE(parser.failed());
    EXPECT_LE(fed, (std::size_t{1} << 20) + kChunk);  // failed as soon as the bound was passed
    EXPECT_NE(parser.error().find("longer than 1048576"), std::string_view::npos);
    EXPECT_FALSE(parser.has_partial());
    // Further input is ignored, however good.
    EXPECT_TRUE(parser.feed(view.substr(fed)).empty());
    EXPECT_TRUE(parser.feed("\n\ndata: x\n\n").empty());
    EXPECT_FALSE(parser.finish());
    EXPECT_TRUE(parser.failed());

    SseParser at_once;
    EXPECT_TRUE(at_once.feed(input).empty());
    EXPECT_TRUE(at_once.failed());
}

TEST(SseParserTest, OversizedEventDataFails) {
    SseParser parser;
    std::string line = "data: " + std::string(1000, 'a') + "\n";
    std::size_t lines = 0;
    while (!parser.failed() && lines < 10'000) {
        EXPECT_TRUE(parser.feed(line).empty());
        ++lines;
    }
    EXPECT_TRUE(parser.failed());
    EXPECT_EQ(lines, 1048U);  // 1048 lines make 1048 × 1001 - 1 bytes > 1 MiB; 1047 would fit
    EXPECT_NE(parser.error().find("data"), std::string_view::npos);
}

TEST(SseParserTest, LimitsAreExact) {
    {
        SseParser parser(16);
        EXPECT_EQ(parser.feed("data: 0123456789\n\n"), std::vector{message("0123456789")});  // 16
        EXPECT_FALSE(parser.failed());
        EXPECT_TRUE(parser.feed("data: 01234567890\n").empty());  // 17
        EXPECT_TRUE(parser.failed());
    }
    {
        SseParser parser(16);
        EXPECT_TRUE(parser.feed("data: 0123").empty());
        EXPECT_TRUE(parser.feed("456789").empty());  // 16 buffered: still fine
        EXPECT_FALSE(parser.failed());
        EXPECT_TRUE(parser.feed("0").empty());
        EXPECT_TRUE(parser.failed());
    }
    {
        // Data: 16 bytes once the last "\n" is stripped is fine, 17 is not.
        SseParser parser(16);
        EXPECT_EQ(
            parser.feed("data: 0123456\ndata: 01234567\n\n"),
            std::vector{message("0123456\n01234567")}
        );
        EXPECT_TRUE(parser.feed("data: 0123456\ndata: 012345678\n").empty());
        EXPECT_TRUE(parser.failed());
    }
}

// A one-line event whose line fits the limit but whose data, once each malformed byte becomes
// U+FFFD (three bytes), does not: the fast path for a whole `data:` line and its blank line must
// fail the parser as the general path does, byte by byte, and dispatch nothing.
TEST(SseParserTest, AnEventThatTheReplacementsPushPastTheLimitFails) {
    const std::string invalid(6, '\xff');  // 6 bytes on the wire, 18 once replaced
    const std::string input = "data: a\n\ndata: " + invalid + "\n\ndata: b\n\n";
    SseParser whole(16);
    EXPECT_EQ(whole.feed(input), std::vector{message("a")});
    EXPECT_TRUE(whole.failed());
    EXPECT_NE(whole.error().find("data"), std::string_view::npos) << whole.error();

    SseParser bytewise(16);
    std::vector<SseEvent> events;
    for (const char c : input) {
        for (auto& e : bytewise.feed(std::string_view(&c, 1))) {
            events.push_back(std::move(e));
        }
    }
    EXPECT_EQ(events, std::vector{message("a")});
    EXPECT_TRUE(bytewise.failed());
    EXPECT_EQ(bytewise.error(), whole.error());

    // "a" and five such bytes make 16, the limit: that event passes, on either path.
    const std::string fits = "data: a" + std::string(5, '\xff') + "\n\n";
    const auto expected = std::vector{message("a\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD")};
    SseParser at_limit(16);
    EXPECT_EQ(at_limit.feed(fits), expected);
    EXPECT_FALSE(at_limit.failed());
    SseParser at_limit_bytewise(16);
    std::vector<SseEvent> got;
    for (const char c : fits) {
        for (auto& e : at_limit_bytewise.feed(std::string_view(&c, 1))) {
            got.push_back(std::move(e));
        }
    }
    EXPECT_EQ(got, expected);
    EXPECT_FALSE(at_limit_bytewise.failed());
}

TEST(SseParserTest, EventsBeforeTheFailureAreReturned) {
    SseParser parser(16);
    EXPECT_EQ(
        parser.feed("data: a\n\ndata: b\n\ndata: 0123456789abcdef\n\ndata: c\n\n"),
        (std::vector{message("a"), message("b")})
    );
    EXPECT_TRUE(parser.failed());
}

// next() hands out the events in storage it reuses: the same events as feed() call after call,
// each field of a reused slot overwritten (a named event after an unnamed one, ids, data of
// another length), and a large event's buffer not kept for the small ones after it.
TEST(SseParserTest, NextReusesItsStorage) {
    SseParser parser;
    const auto first =
        parser.next("id: 1\nevent: a\ndata: long enough to leave the small buffer\n\ndata: b\n\n");
    ASSERT_EQ(first.size(), 2U);
    EXPECT_EQ(first[0], named("a", "long enough to leave the small buffer", "1"));
    EXPECT_EQ(first[1], message("b", "1"));
    const SseEvent* slots = first.data();
    const auto second = parser.next("data: x\n\ndata: y\nid: 2\n\n");
    ASSERT_EQ(second.size(), 2U);
    EXPECT_EQ(second.data(), slots) << "the same slots, not new ones";
    EXPECT_EQ(second[0], message("x", "1"));
    EXPECT_EQ(second[1], message("y", "2"));
    EXPECT_TRUE(parser.next("data: no blank line yet").empty());
    const std::string big(std::size_t{100} << 10, 'b');
    const auto third = parser.next("\n\ndata: " + big + "\n\n");
    ASSERT_EQ(third.size(), 2U);
    EXPECT_EQ(third.data(), slots);
    EXPECT_EQ(third[0], message("no blank line yet", "2"));
    EXPECT_EQ(third[1].data, big);
    const auto fourth = parser.next("event: c\ndata: z\n\n");
    ASSERT_EQ(fourth.size(), 1U);
    EXPECT_EQ(fourth[0], named("c", "z", "2"));
    const auto fifth = parser.next("data: w\n\ndata: v\n\n");
    ASSERT_EQ(fifth.size(), 2U);
    EXPECT_EQ(fifth[1], message("v", "2"));
    EXPECT_LT(fifth[1].data.capacity(), big.size()) << "the slot that held 100 KiB gave it back";
}

TEST(SseParserTest, RandomGarbageNeverCrashesAndStaysBounded) {
    // Random bytes hold line ends, colons and the odd "data" often enough to exercise every path;
    // whatever comes out must respect the bound.
    std::string input = garbage(10U << 20, true);
    for (std::size_t i = 0; i + 6 < input.size(); i += 4099) {
        input.replace(i, 6, "data: ");
    }
    for (const std::size_t chunk : {std::size_t{1} << 20, std::size_t{4096}, std::size_t{7}}) {
        SseParser parser(4096);
        const std::string_view view = input;
        std::size_t events = 0;
        for (std::size_t i = 0; i < view.size() && (chunk > 7 || i < (1U << 20)); i += chunk) {
            for (const auto& e : parser.feed(view.substr(i, chunk))) {
                EXPECT_LE(e.data.size(), 4096U);
                EXPECT_LE(e.event.size(), 4096U);
                ++events;
            }
        }
        EXPECT_GT(events + (parser.failed() ? 1 : 0), 0U);
        parser.finish();
    }
}

}  // namespace
}  // namespace parley::net
