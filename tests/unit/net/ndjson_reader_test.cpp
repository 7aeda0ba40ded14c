#include "net/ndjson_reader.hpp"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "support/recorded_streams.hpp"

namespace parley::net {
namespace {

using testing::recorded::kOllama;

constexpr std::size_t kChunk = std::size_t{64} << 10;  // a large socket read

using Lines = std::vector<std::string>;

const Lines& ollama_lines() {
    static const Lines lines = {
        R"({"model":"llama3.2","created_at":"2024-07-22T20:33:28.123648Z","message":{"role":"assistant","content":"Hello"},"done":false})",
        R"({"model":"llama3.2","created_at":"2024-07-22T20:33:28.234951Z","message":{"role":"assistant","content":" w\u00f6rld 👋"},"done":false})",
        R"({"model":"llama3.2","created_at":"2024-07-22T20:33:28.301482Z","message":{"role":"assistant","content":"!"},"done":false})",
        R"({"model":"llama3.2","created_at":"2024-07-22T20:33:28.412303Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":3,"eval_duration":4535599000})",
    };
    return lines;
}

// Feeds the pieces, then finishes; the final unterminated line, if any, ends the list.
Lines run(const std::vector<std::string_view>& pieces, std::size_t max_line = 1U << 20) {
    NdjsonReader reader(max_line);
    Lines out;
    for (const auto piece : pieces) {
        for (auto& line : reader.feed(piece)) {
            out.push_back(std::move(line));
        }
    }
    if (auto last = reader.finish()) {
        out.push_back(std::move(*last));
    }
    return out;
}

void expect_same_at_every_split(std::string_view stream, const Lines& expected) {
    ASSERT_EQ(run({stream}), expected);
    for (std::size_t k = 0; k <= stream.size(); ++k) {
        ASSERT_EQ(run({stream.substr(0, k), stream.substr(k)}), expected) << "split at byte " << k;
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < stream.size(); ++i) {
        bytes.push_back(stream.substr(i, 1));
    }
    ASSERT_EQ(run(bytes), expected) << "byte by byte";
}

std::string to_crlf(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '\n') {
            out += '\r';
        }
        out += c;
    }
    return out;
}

TEST(NdjsonReaderTest, OllamaStreamAtEverySplit) {
    expect_same_at_every_split(kOllama, ollama_lines());
}

TEST(NdjsonReaderTest, CrlfOllamaStreamAtEverySplit) {
    expect_same_at_every_split(to_crlf(kOllama), ollama_lines());
}

TEST(NdjsonReaderTest, UnterminatedLastLineAtEverySplit) {
    std::string_view stream = kOllama;
    stream.remove_suffix(1);
    expect_same_at_every_split(stream, ollama_lines());
}

TEST(NdjsonReaderTest, LinesComeOutAsTheyComplete) {
    NdjsonReader reader;
    EXPECT_EQ(reader.feed("{\"a\":1}\n{\"b\""), Lines{"{\"a\":1}"});
    EXPECT_EQ(reader.feed(":2}"), Lines{});
    EXPECT_EQ(reader.feed("\r"), Lines{});
    EXPECT_EQ(reader.feed("\n{}\n{}\n"), (Lines{"{\"b\":2}", "{}", "{}"}));
    EXPECT_EQ(reader.finish(), std::nullopt);
}

TEST(NdjsonReaderTest, OnlyTheLineEndIsRemoved) {
    EXPECT_EQ(run({"a\r\r\nb\rc\n"}), (Lines{"a\r", "b\rc"}));  // a lone CR is not a line end
    EXPECT_EQ(run({"  {\"a\": 1}  \r\n"}), Lines{"  {\"a\": 1}  "});
}

TEST(NdjsonReaderTest, BlankLinesAreSkipped) {
    EXPECT_EQ(run({"\n\r\n  \n\t\r\n{}\n\n \r\n{}\n\n"}), (Lines{"{}", "{}"}));
    EXPECT_EQ(run({"\n\n\n"}), Lines{});
}

TEST(NdjsonReaderTest, FinishReturnsTheUnterminatedLine) {
    NdjsonReader reader;
    EXPECT_EQ(reader.feed("{\"a\":1}\n{\"done\":true}"), Lines{"{\"a\":1}"});
    EXPECT_EQ(reader.finish(), "{\"done\":true}");
    EXPECT_EQ(reader.finish(), std::nullopt);  // taken once
    // The reader is ready for a new stream.
    EXPECT_EQ(reader.feed("{}\n"), Lines{"{}"});

    NdjsonReader cr;
    EXPECT_EQ(cr.feed("{}\r"), Lines{});
    EXPECT_EQ(cr.finish(), "{}");

    NdjsonReader blank;
    EXPECT_EQ(blank.feed("{}\n  \r"), Lines{"{}"});
    EXPECT_EQ(blank.finish(), std::nullopt);
    EXPECT_EQ(NdjsonReader().finish(), std::nullopt);
}

TEST(NdjsonReaderTest, OversizedLineFailsOnTenMebibytesOfGarbage) {
    std::string input(10U << 20, '\0');
    unsigned x = 12345;
    for (auto& c : input) {
        x = x * 1103515245U + 12345U;
        c = static_cast<char>((x >> 16) & 0xFF);
        if (c == '\n') {
            c = 'x';
        }
    }
    NdjsonReader reader;
    const std::string_view view = input;
    std::size_t fed = 0;
    for (; fed < view.size() && !reader.failed(); fed += kChunk) {
        EXPECT_EQ(reader.feed(view.substr(fed, kChunk)), Lines{});
    }
    EXPECT_TRUE(reader.failed());
    EXPECT_LE(fed, (std::size_t{1} << 20) + kChunk);
    EXPECT_NE(reader.error().find("longer than 1048576"), std::string_view::npos);
    EXPECT_EQ(reader.feed("\n{}\n"), Lines{});
    EXPECT_EQ(reader.finish(), std::nullopt);

    NdjsonReader at_once;
    EXPECT_EQ(at_once.feed(input + "\n{}\n"), Lines{});
    EXPECT_TRUE(at_once.failed());
}

TEST(NdjsonReaderTest, LimitIsExact) {
    EXPECT_EQ(run({"12345678\n"}, 8), Lines{"12345678"});
    EXPECT_EQ(run({"12345678\r\n"}, 8), Lines{"12345678"});  // the CR is not counted
    EXPECT_EQ(run({"1234", "5678\r", "\n"}, 8), Lines{"12345678"});
    EXPECT_EQ(run({"12345678"}, 8), Lines{"12345678"});
    EXPECT_EQ(run({"12345678\r"}, 8), Lines{"12345678"});

    NdjsonReader reader(8);
    EXPECT_EQ(reader.feed("ok\n123456789\nlost\n"), Lines{"ok"});  // lines before it still count
    EXPECT_TRUE(reader.failed());

    NdjsonReader split(8);
    EXPECT_EQ(split.feed("123456789"), Lines{});  // 9 bytes may still be 8 and a CR
    EXPECT_FALSE(split.failed());
    EXPECT_EQ(split.feed("\n"), Lines{});
    EXPECT_TRUE(split.failed());

    NdjsonReader at_end(8);
    EXPECT_EQ(at_end.feed("123456789"), Lines{});
    EXPECT_EQ(at_end.finish(), std::nullopt);
    EXPECT_TRUE(at_end.failed());

    NdjsonReader growing(8);
    EXPECT_EQ(growing.feed("12345678\r"), Lines{});
    EXPECT_EQ(growing.feed("x"), Lines{});
    EXPECT_TRUE(growing.failed());
}

}  // namespace
}  // namespace parley::net
