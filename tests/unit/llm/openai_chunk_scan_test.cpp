#include "llm/openai_chunk_scan.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "llm/openai_codec.hpp"
#include "unit/llm/codec_test_support.hpp"

namespace parley::llm {
namespace {

using testing::render;

// A chunk of the plain shape as OpenAI sends it with `include_usage`, its delta as given.
std::string plain(std::string_view delta) {
    return R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",)"
           R"("system_fingerprint":"fp_1","choices":[{"index":0,"delta":)" +
           std::string(delta) + R"(,"logprobs":null,"finish_reason":null}],"usage":null})";
}

struct Case {
    std::string data;
    PlainChunk shape;
    std::string content;  // when shape is content
};

// Chunks of every shape the scan must tell apart, with what it must say of each.
std::vector<Case> cases() {
    return {
        {plain(R"({"content":"Hello"})"), PlainChunk::content, "Hello"},
        {plain(R"({"role":"assistant","content":"","refusal":null})"), PlainChunk::content, ""},
        {plain(R"({"content":"a\"b\\c\u00e9\n\ud83d\ude00"})"),
         PlainChunk::content,
         "a\"b\\c\xc3\xa9\n\xf0\x9f\x98\x80"},
        {plain(R"({"content":"<think>why"})"), PlainChunk::content, "<think>why"},
        {plain(R"({"content":null})"), PlainChunk::no_content, ""},
        {plain("{}"), PlainChunk::no_content, ""},
        {plain("null"), PlainChunk::no_content, ""},
        {R"({"choices":[]})", PlainChunk::no_content, ""},
        {R"({"choices":null})", PlainChunk::no_content, ""},
        {"{}", PlainChunk::no_content, ""},
        {R"({"choices":[{"delta":{"content":"x"}}]})", PlainChunk::content, "x"},
        {R"({"choices":[{"index":null,"delta":{"content":"x"}}]})", PlainChunk::content, "x"},
        // Fields the decoder ignores are skipped whole, whatever they hold: a `content` inside
        // `logprobs`, or a `choices` inside an unknown object, is not the delta's.
        {R"({"choices":[{"index":0,"delta":{"content":"x","extra":{"content":"no"}},)"
         R"("logprobs":{"content":[{"token":"x","logprob":-0.1,"top_logprobs":[]}]}}],)"
         R"("meta":{"choices":[1,2],"a":[[{"b":true}]]},"a_key_longer_than_the_scan_buffer":1})",
         PlainChunk::content,
         "x"},
        {R"({"x_groq":null,"error":null,"choices":[{"index":0,"delta":{"content":"x",)"
         R"("reasoning":null,"reasoning_content":null,"tool_calls":null}}]})",
         PlainChunk::content,
         "x"},
        {" \n" + plain(R"({"content":"x"})") + " \n", PlainChunk::content, "x"},
        // Everything else is for the full decoder.
        {plain(R"({"reasoning_content":"hmm"})"), PlainChunk::other, ""},
        {plain(R"({"reasoning":"hmm","content":"x"})"), PlainChunk::other, ""},
        {plain(R"({"refusal":"no"})"), PlainChunk::other, ""},
        {plain(R"({"tool_calls":[{"index":0,"id":"c","function":{"name":"f"}}]})"),
         PlainChunk::other,
         ""},
        {plain(R"({"content":1})"), PlainChunk::other, ""},
        {plain(R"({"content":"a","content":"b"})"), PlainChunk::other, ""},
        {plain(R"("text")"), PlainChunk::other, ""},
        {R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})",
         PlainChunk::other,
         ""},
        {R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}})",
         PlainChunk::other,
         ""},
        {R"({"choices":[{"index":1,"delta":{"content":"x"}}]})", PlainChunk::other, ""},
        {R"({"choices":[{"index":0.0,"delta":{"content":"x"}}]})", PlainChunk::other, ""},
        {R"({"choices":[{"index":0,"delta":{"content":"x"}},{"index":1,"delta":{}}]})",
         PlainChunk::other,
         ""},
        {R"({"choices":[{"delta":{"content":"x"},"delta":null}]})", PlainChunk::other, ""},
        {R"({"choices":[{"delta":{"content":"x"}}],"choices":null})", PlainChunk::other, ""},
        {R"({"choices":[null]})", PlainChunk::other, ""},
        {R"({"choices":{"index":0}})", PlainChunk::other, ""},
        {R"({"error":{"message":"overloaded","type":"server_error"}})", PlainChunk::other, ""},
        {R"({"error":"boom","choices":[]})", PlainChunk::other, ""},
        {R"({"object":"error","message":"bad"})", PlainChunk::other, ""},
        {R"({"object":"err","choices":[]})", PlainChunk::no_content, ""},
        {R"({"object":"errors","choices":[]})", PlainChunk::no_content, ""},
        {R"({"x_groq":{"id":"req_1"},"choices":[]})", PlainChunk::other, ""},
        {R"([{"choices":[]}])", PlainChunk::other, ""},
        {R"("chunk")", PlainChunk::other, ""},
        {"42", PlainChunk::other, ""},
        {"null", PlainChunk::other, ""},
        {"", PlainChunk::other, ""},
        {R"({"choices":[{"delta":{"content":"x"}}]} {})", PlainChunk::other, ""},
        {R"({"choices":[{"delta":{"content":"x"}}])", PlainChunk::other, ""},
        {R"({"choices":[{"delta":{"content":"x",}}]})", PlainChunk::other, ""},
        {"{\"choices\":[{\"delta\":{\"content\":\"\xff\"}}]}", PlainChunk::other, ""},
        {std::string(70, '[') + std::string(70, ']'), PlainChunk::other, ""},
        {R"({"deep":)" + std::string(70, '[') + std::string(70, ']') + "}", PlainChunk::other, ""},
    };
}

TEST(OpenAiChunkScanTest, TellsThePlainShapeFromEverythingElse) {
    for (const Case& c : cases()) {
        std::string content = "stale";
        const PlainChunk shape = scan_plain_chunk(c.data, content);
        EXPECT_EQ(shape, c.shape) << c.data;
        if (c.shape == PlainChunk::content) {
            EXPECT_EQ(content, c.content) << c.data;
        }
    }
}

// The decoder with the scan gives exactly the events of the decoder without it, chunk by chunk,
// whatever the chunk: the scan is only a shortcut.
TEST(OpenAiChunkScanTest, DecoderGivesTheSameEventsWithAndWithoutTheScan) {
    std::vector<std::string> stream;
    for (const Case& c : cases()) {
        OpenAiStreamDecoder fast;
        OpenAiStreamDecoder full(OpenAiStreamDecoder::ChunkScan::off);
        EXPECT_EQ(render(fast.decode("", c.data)), render(full.decode("", c.data))) << c.data;
        EXPECT_EQ(render(fast.finish()), render(full.finish())) << c.data;
    }
    // Whole streams: a held-back `<think>` prefix and the state between chunks.
    const std::vector<std::vector<std::string>> streams = {
        {plain(R"({"content":" <th"})"),
         plain(R"({"content":"ink>r"})"),
         plain(R"({"content":"</thi"})"),
         plain(R"({"content":"nk>\n answer"})"),
         R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})",
         "[DONE]"},
        {plain(R"({"role":"assistant","content":""})"),
         plain(R"({"content":"Hi"})"),
         plain(R"({"reasoning_content":"and"})"),
         plain(R"({"content":" there"})"),
         R"({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}})",
         "[DONE]",
         plain(R"({"content":"after done"})")},
        {plain(R"({"content":"x"})"),
         R"({"error":{"message":"overloaded"}})",
         plain(R"({"content":"after the error"})")},
    };
    for (const auto& chunks : streams) {
        OpenAiStreamDecoder fast;
        OpenAiStreamDecoder full(OpenAiStreamDecoder::ChunkScan::off);
        for (const std::string& data : chunks) {
            EXPECT_EQ(render(fast.decode("", data)), render(full.decode("", data))) << data;
        }
        EXPECT_EQ(render(fast.finish()), render(full.finish()));
    }
}

// Texts put in the plain envelope after a chunk of that envelope: the scanner's shortcut must
// take only those that leave the document's shape as it was.
std::vector<std::string> texts_in_the_envelope() {
    return {
        R"( world)",
        R"()",
        R"(~ printable ASCII: {}[]:,' 0x7f:)"
        "\x7f",
        R"(a","content":"b)",                // a second content member: "other"
        R"(a"},"refusal":"no","x":{"y":")",  // a refusal: "other"
        R"(a\"b)",                           // an escaped quote: unescaped by the shortcut
        R"(line\nbreak \u00e9)",
        R"(every escape \" \\ \/ \b \f \n \r \t \u0041 \u00E9 \u20ac \uFFFF \u0000 \u001f)",
        R"(a pair \ud83d\ude00 and \uD83D\uDE00, the last BMP \ud7ff \ue000)",
        R"(\\)",                // an escaped backslash, then the closing quote
        R"(\\")",               // then a quote not escaped: not one string
        R"(lone high \ud83d)",  // surrogates alone, or in the wrong order: the full scan's
        R"(lone high \ud83d then \u0041)",
        R"(\ud83d\u0041)",
        R"(\ud83d\ud83d)",
        R"(\ud83d\ue000)",
        R"(\ud800\udc00 \udbff\udfff)",  // the pairs' ends
        R"(\udbff)",
        R"(\udc00)",
        R"(\udfff)",
        R"(\u00G0 \u00`0 \u00@0 \u00:0)",
        "\xe0\x9f\xbf \xf0\x8f\xbf\xbf \xc3\xc0",  // not UTF-8
        R"(a","x":"b)",  // still the plain shape with the text "a", but not this envelope
        R"(lone low \ude00)",
        R"(\ude00\ud83d)",
        R"(high at the end \ud83d\)",
        R"(bad escapes \x \U0041)",
        R"(short \u12)",
        R"(short at the end \u12a)",
        R"(not hex \u12g4 \uZZZZ)",
        "raw tab \t inside",  // a control character, even a tab: not JSON
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xed\x9f\xbf",  // UTF-8
        "bad \xff byte",  // not UTF-8: "other"
        "overlong \xc0\xaf \xe0\x80\xaf \xf0\x80\x80\xaf",
        "surrogate \xed\xa0\x80",
        "past U+10FFFF \xf4\x90\x80\x80 \xf5\x80\x80\x80",
        "cut short \xe2\x82",
        "\xe2\x82",
        "lone continuation \x80",
        "control \x01 char",        // a raw control character: not JSON
        R"(ends in a backslash\)",  // the closing quote escaped: not JSON
        R"(\)",
    };
}

// PlainChunkScanner says what scan_plain_chunk says of every chunk, and skips the parse only for
// a chunk that repeats the last envelope around a string body, escapes and UTF-8 included.
TEST(OpenAiChunkScanTest, ScannerAgreesWithTheScanAndShortcutsOnlyARepeatedEnvelope) {
    const auto expect_same = [](PlainChunkScanner& scanner, const std::string& data) {
        std::string got = "stale";
        std::string want = "stale";
        const PlainChunk shape = scanner.scan(data, got);
        EXPECT_EQ(shape, scan_plain_chunk(data, want)) << data;
        if (shape == PlainChunk::content) {
            EXPECT_EQ(got, want) << data;
        }
    };
    // The shortcut is taken exactly for the texts that are one JSON string's body (what
    // Boost.JSON says of the text in quotes), with the text Boost.JSON reads.
    for (const std::string& text : texts_in_the_envelope()) {
        PlainChunkScanner scanner;
        expect_same(scanner, plain(R"({"content":"Hello"})"));
        expect_same(scanner, plain(R"({"content":")" + text + R"("})"));
        boost::system::error_code ec;
        const auto alone = boost::json::parse("\"" + text + "\"", ec);
        EXPECT_EQ(scanner.shortcuts(), !ec && alone.is_string() ? 1U : 0U) << text;
    }
    // One scanner through every case, its envelope changing as it goes.
    PlainChunkScanner through;
    for (const Case& c : cases()) {
        expect_same(through, c.data);
        expect_same(through, plain(R"({"content":"again"})"));
    }

    PlainChunkScanner scanner;
    std::string content;
    ASSERT_EQ(scanner.scan(plain(R"({"content":"Hello"})"), content), PlainChunk::content);
    EXPECT_EQ(scanner.shortcuts(), 0U);
    ASSERT_EQ(scanner.scan(plain(R"({"content":" world"})"), content), PlainChunk::content);
    EXPECT_EQ(content, " world");
    EXPECT_EQ(scanner.shortcuts(), 1U);
    ASSERT_EQ(scanner.scan(plain(R"({"content":"a\nb"})"), content), PlainChunk::content);
    EXPECT_EQ(content, "a\nb");
    EXPECT_EQ(scanner.shortcuts(), 2U);  // an escape: undone, no parse
    ASSERT_EQ(
        scanner.scan(plain(R"({"content":"\"q\" \ud83d\ude00 \u00e9"})"), content),
        PlainChunk::content
    );
    EXPECT_EQ(content, "\"q\" \xf0\x9f\x98\x80 \xc3\xa9");
    EXPECT_EQ(scanner.shortcuts(), 3U);
    ASSERT_EQ(
        scanner.scan(plain("{\"content\":\"d\xc3\xa9j\xc3\xa0\"}"), content), PlainChunk::content
    );
    EXPECT_EQ(content, "d\xc3\xa9j\xc3\xa0");
    EXPECT_EQ(scanner.shortcuts(), 4U);  // UTF-8 as it is: no parse
    // A lone surrogate is left to the full scan, whatever it makes of it.
    std::string lone;
    const PlainChunk lone_shape = scan_plain_chunk(plain(R"({"content":"\ud83d"})"), lone);
    EXPECT_EQ(scanner.scan(plain(R"({"content":"\ud83d"})"), content), lone_shape);
    EXPECT_EQ(scanner.shortcuts(), 4U);
    // Another envelope (a different id) is parsed, then becomes the one kept.
    std::string other = plain(R"({"content":"x"})");
    other.replace(other.find("chatcmpl-1"), 10, "chatcmpl-2");
    ASSERT_EQ(scanner.scan(other, content), PlainChunk::content);
    EXPECT_EQ(scanner.shortcuts(), 4U);
    other.replace(other.find(R"("x")"), 3, R"("y")");
    ASSERT_EQ(scanner.scan(other, content), PlainChunk::content);
    EXPECT_EQ(content, "y");
    EXPECT_EQ(scanner.shortcuts(), 5U);

    // Two `"content":"` members (one in a skipped field): the envelope kept is around the one the
    // scan read, the delta's; a change in the other one is a change of envelope.
    PlainChunkScanner twice;
    const auto nested = [](std::string_view text, std::string_view extra) {
        return R"({"choices":[{"delta":{"content":")" + std::string(text) +
               R"(","extra":{"content":")" + std::string(extra) + R"("}}}]})";
    };
    ASSERT_EQ(twice.scan(nested("x", "no"), content), PlainChunk::content);
    ASSERT_EQ(twice.scan(nested("y", "no"), content), PlainChunk::content);
    EXPECT_EQ(content, "y");
    EXPECT_EQ(twice.shortcuts(), 1U);
    ASSERT_EQ(twice.scan(nested("y", "yes"), content), PlainChunk::content);
    EXPECT_EQ(content, "y");
    EXPECT_EQ(twice.shortcuts(), 1U);
    // The delta's key written with an escape, a skipped field's `"content":"` as it is: the text
    // is the delta's whatever the other holds.
    PlainChunkScanner escaped_key;
    const auto keyed = [](std::string_view text, std::string_view meta) {
        return R"({"choices":[{"delta":{"\u0063ontent":")" + std::string(text) +
               R"("}}],"meta":{"content":")" + std::string(meta) + R"("}})";
    };
    for (const auto& [text, meta] : {std::pair{"x", "y"}, {"x", "w"}, {"z", "w"}, {"z", "v"}}) {
        expect_same(escaped_key, keyed(text, meta));
        ASSERT_EQ(escaped_key.scan(keyed(text, meta), content), PlainChunk::content);
        EXPECT_EQ(content, text);
    }
    // The delta's text written with a space, a skipped field's compact: the compact one is not
    // the delta's, and changing it must not change the text found.
    PlainChunkScanner spaced;
    const auto with_meta = [](std::string_view meta) {
        return R"({"choices":[{"delta":{"content": "x"}}],"meta":{"content":")" +
               std::string(meta) + R"("}})";
    };
    for (const char* meta : {"y", "z", "x"}) {
        expect_same(spaced, with_meta(meta));
    }
    ASSERT_EQ(spaced.scan(with_meta("w"), content), PlainChunk::content);
    EXPECT_EQ(content, "x");
    EXPECT_EQ(spaced.shortcuts(), 0U);
}

// An `error` event name fails the stream even when its data looks like a plain chunk.
TEST(OpenAiChunkScanTest, ErrorEventNameIsNotScanned) {
    OpenAiStreamDecoder decoder;
    EXPECT_EQ(
        render(decoder.decode("error", plain(R"({"content":"x"})"))), testing::Lines{"error:server"}
    );
}

}  // namespace
}  // namespace parley::llm
