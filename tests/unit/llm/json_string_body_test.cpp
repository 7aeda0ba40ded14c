#include "llm/json_string_body.hpp"

#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace parley::llm {
namespace {

// What Boost.JSON makes of `"` + body + `"`: its text, or nothing when it refuses it or reads
// something other than one string.
bool boost_text(std::string_view body, std::string& text) {
    boost::system::error_code ec;
    const auto value = boost::json::parse("\"" + std::string(body) + "\"", ec);
    if (ec || !value.is_string()) {
        return false;
    }
    text.assign(value.get_string().data(), value.get_string().size());
    return true;
}

void expect_as_boost(std::string_view body) {
    std::string want;
    std::string got = "stale";
    const bool ok = boost_text(body, want);
    ASSERT_EQ(json_string_body_text(body, got), ok) << body;
    if (ok) {
        EXPECT_EQ(got, want) << body;
    }
}

TEST(JsonStringBodyTest, UndoesEveryEscape) {
    std::string text;
    ASSERT_TRUE(json_string_body_text(R"(a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20AC)", text));
    EXPECT_EQ(text, "a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xe2\x82\xac");
    ASSERT_TRUE(json_string_body_text(R"(\ud83d\ude00 \uD800\uDC00 \udbff\udfff \u0000)", text));
    EXPECT_EQ(text, std::string("\xf0\x9f\x98\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf \0", 16));
    ASSERT_TRUE(json_string_body_text("caf\xc3\xa9 as it is", text));
    EXPECT_EQ(text, "caf\xc3\xa9 as it is");
    ASSERT_TRUE(json_string_body_text("", text));
    EXPECT_EQ(text, "");
}

TEST(JsonStringBodyTest, RefusesWhatIsNotOneStringBody) {
    std::string text;
    for (const std::string_view body : {
             R"(quote " inside)",
             R"(ends in a backslash\)",
             R"(\)",
             R"(\x)",
             R"(\U0041)",
             R"(\u12)",
             R"(\u12g4)",
             R"(\ud83d)",
             R"(\ude00)",
             R"(\ud83d\u0041)",
             R"(\ud83d\ud83d)",
             R"(\ud83d\ue000)",
             R"(\ud83dx\ude00)",
             R"(\udbff)",
             R"(\udc00)",
             R"(\udfff)",
             "raw \t tab",
             "raw \x01",
             "bad \xff",
             "overlong \xc0\xaf",
             "surrogate \xed\xa0\x80",
             "cut \xe2\x82",
         }) {
        EXPECT_FALSE(json_string_body_text(body, text)) << body;
    }
}

// Whatever the body, the answer and the text are Boost.JSON's: listed edges, then bodies made of
// pieces that meet at every boundary (escapes, surrogates, hex digits' edges, UTF-8's, quotes).
TEST(JsonStringBodyTest, AgreesWithBoostJson) {
    for (const std::string_view body : {
             R"(\u00G0)",        R"(\u00`0)",        R"(\u00@0)",        R"(\u00:0)",
             R"(\u00/0)",        R"(\uffff)",        R"(\ud7ff\ue000)",  R"(\ud800\udc00)",
             R"(\udbff\udfff)",  R"(\\")",           R"(\\\")",          "\x7f",
             "\xe0\x9f\xbf",     "\xe0\xa0\x80",     "\xf0\x8f\xbf\xbf", "\xf0\x90\x80\x80",
             "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xc3\xc0",         "\xc2\x80",
             "\xc1\xbf",         "\xed\x9f\xbf",     "\xed\xa0\x80",     "\xee\x80\x80",
         }) {
        expect_as_boost(body);
    }
    const std::vector<std::string_view> pieces = {
        "a",
        " ",
        "\\",
        "\"",
        "u",
        "\\u",
        "d83d",
        "D83D",
        "de00",
        "DE00",
        "dbff",
        "dc00",
        "0041",
        "00",
        "4",
        "g",
        "n",
        "t",
        "/",
        "\\n",
        "\\\"",
        "\\\\",
        "\xc3",
        "\xa9",
        "\xf0\x9f",
        "\x98\x80",
        "\x7f",
        "\x1f",
        "\xed\xa0\x80",
    };
    std::mt19937 random(14);  // fixed: the same bodies every run
    std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
    std::uniform_int_distribution<int> length(0, 8);
    for (int n = 0; n < 20000; ++n) {
        std::string body;
        for (int k = length(random); k > 0; --k) {
            body += pieces[pick(random)];
        }
        expect_as_boost(body);
    }
}

}  // namespace
}  // namespace parley::llm
