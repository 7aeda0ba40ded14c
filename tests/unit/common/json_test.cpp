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

TEST(JsonTest, DuplicateKeysAreKeptLastByDefault) {
    const auto v = json::parse(R"({"a":1,"a":2})", 8).value();
    EXPECT_EQ(v.get_object().size(), 1U);
    EXPECT_EQ(v.get_object().at("a").as_int64(), 2);
}

TEST(JsonTest, DuplicateKeysAreRefusedAtAnyDepthWhenAsked) {
    for (const char* text : {
             R"({"email":"a@b.co","email":"c@d.co","password":"x"})",
             R"({"a":1,"b":2,"a":1})",
             R"({"metadata":{"x":1,"y":2,"x":3}})",
             R"({"a":[1,{"b":{"c":[{"d":1,"d":1}]}}]})",
             R"([{"a":1},{"k":true,"k":false}])",
             R"({"a":1,"a":2})",  // the same key once unescaped
             R"({"":1,"":2})",
         }) {
        const auto r = json::parse(text, 16, json::DuplicateKeys::refuse);
        ASSERT_FALSE(r.has_value()) << text;
        EXPECT_EQ(r.error().type, ErrorType::invalid_request) << text;
        EXPECT_EQ(r.error().message.rfind("duplicate key `", 0), 0U) << r.error().message;
    }
    const auto named =
        json::parse(R"({"x":{"inner":1,"inner":2}})", 8, json::DuplicateKeys::refuse);
    ASSERT_FALSE(named.has_value());
    EXPECT_EQ(named.error().message, "duplicate key `inner` in a JSON object");

    const std::string long_key(200, 'k');
    const auto long_dup = json::parse(
        "{\"" + long_key + "\":1,\"" + long_key + "\":2}", 8, json::DuplicateKeys::refuse
    );
    ASSERT_FALSE(long_dup.has_value());
    EXPECT_LT(long_dup.error().message.size(), 120U) << "the key is shortened in the message";
}

TEST(JsonTest, UniqueKeysParseAsUsualWhenDuplicatesAreRefused) {
    // The same key in different objects (siblings, nested, array elements) is not a duplicate.
    const auto text =
        R"({"a":{"a":1,"b":[{"a":1},{"a":2}]},"b":"a","c":[1,2.5,-3,true,null,"s"],"d":{}})";
    const auto strict = json::parse(text, 8, json::DuplicateKeys::refuse);
    ASSERT_TRUE(strict.has_value()) << strict.error().message;
    EXPECT_EQ(*strict, json::parse(text, 8).value());
    // Keys that arrive in parts (escapes) are compared whole.
    const auto escaped = json::parse(R"({"a\nb":1,"a\tb":2})", 8, json::DuplicateKeys::refuse);
    ASSERT_TRUE(escaped.has_value());
    EXPECT_EQ(escaped->get_object().size(), 2U);
}

TEST(JsonTest, RefusingDuplicatesKeepsTheOtherErrors) {
    for (const char* text : {"{", "{\"a\":}", "nul", "{\"a\":1,}", "[1 2]", "", "{} {}", "{}x"}) {
        const auto r = json::parse(text, 64, json::DuplicateKeys::refuse);
        ASSERT_FALSE(r.has_value()) << text;
        EXPECT_EQ(r.error().type, ErrorType::invalid_request) << text;
        EXPECT_EQ(r.error().message.rfind("malformed JSON", 0), 0U) << r.error().message;
    }
    const auto deep = json::parse(nested(65), 64, json::DuplicateKeys::refuse);
    ASSERT_FALSE(deep.has_value());
    EXPECT_NE(deep.error().message.find("deeper than 64"), std::string::npos);
    EXPECT_TRUE(json::parse(nested(64), 64, json::DuplicateKeys::refuse).has_value());
    EXPECT_TRUE(json::parse(" 42 ", 64, json::DuplicateKeys::refuse).has_value());
}

TEST(JsonTest, UnknownFieldsAreNamed) {
    const auto v = json::parse(R"({"title":"t","max_token":5,"other":1})", 8).value();
    const auto& o = v.get_object();
    EXPECT_TRUE(json::reject_unknown_fields(o, {"title", "max_token", "other"}).has_value());
    const auto r = json::reject_unknown_fields(o, {"title", "model", "max_tokens"});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().type, ErrorType::unprocessable);
    EXPECT_EQ(
        r.error().message, "unknown field `max_token`; this request takes title, model, max_tokens"
    );
    const auto none = json::reject_unknown_fields(o, {});
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error().message, "unknown field `title`; this request takes no fields");
    EXPECT_TRUE(json::reject_unknown_fields(boost::json::object{}, {"title"}).has_value());
}

}  // namespace
}  // namespace parley
