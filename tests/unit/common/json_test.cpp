#include "common/json.hpp"

#include <gtest/gtest.h>

namespace parley {
namespace {

std::string nested(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

TEST(JsonTest, ParsesWithinDepthAndRejectsDeeper) {
    EXPECT_TRUE(json::parse(nested(64), 64).has_value());
    const auto deep = json::parse(nested(65), 64);
    ASSERT_FALSE(deep.has_value());
    EXPECT_EQ(deep.error().type, ErrorType::invalid_request);
    EXPECT_NE(deep.error().message.find("64"), std::string::npos);
}

TEST(JsonTest, MalformedIsInvalidRequest) {
    for (const char* text : {"{", "{\"a\":}", "nul", "{\"a\":1,}", "[1 2]", ""}) {
        const auto r = json::parse(text, 64);
        ASSERT_FALSE(r.has_value()) << text;
        EXPECT_EQ(r.error().type, ErrorType::invalid_request) << text;
        EXPECT_EQ(r.error().message.rfind("malformed JSON", 0), 0U) << r.error().message;
    }
}

TEST(JsonTest, TypedFieldReaders) {
    const auto v =
        json::parse(R"({"s":"x","b":true,"i":7,"d":1.5,"n":null,"wrong":[1]})", 64).value();
    const auto& o = v.get_object();
    EXPECT_EQ(json::optional_string(o, "s").value(), std::optional<std::string>("x"));
    EXPECT_EQ(json::optional_string(o, "missing").value(), std::nullopt);
    EXPECT_EQ(json::optional_string(o, "n").value(), std::nullopt);
    EXPECT_EQ(json::optional_bool(o, "b").value(), std::optional<bool>(true));
    EXPECT_EQ(json::optional_int(o, "i").value(), std::optional<std::int64_t>(7));
    EXPECT_EQ(json::optional_number(o, "d").value(), std::optional<double>(1.5));
    EXPECT_EQ(json::optional_number(o, "i").value(), std::optional<double>(7.0));

    const auto bad = json::optional_string(o, "wrong");
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().type, ErrorType::unprocessable);
    EXPECT_NE(bad.error().message.find("`wrong`"), std::string::npos);
    EXPECT_FALSE(json::optional_int(o, "d").has_value());
    EXPECT_FALSE(json::optional_bool(o, "s").has_value());

    const auto required = json::required_string(o, "missing");
    ASSERT_FALSE(required.has_value());
    EXPECT_EQ(required.error().message, "`missing` is required");
}

TEST(JsonTest, EscapeProducesValidJsonStrings) {
    std::string out;
    json::escape_into(out, "q\"b\\n\nt\tc\x01");
    EXPECT_EQ(out, "q\\\"b\\\\n\\nt\\tc\\u0001");
    const auto round = json::parse("\"" + out + "\"", 4).value();
    EXPECT_EQ(round.get_string(), "q\"b\\n\nt\tc\x01");
}

}  // namespace
}  // namespace parley
