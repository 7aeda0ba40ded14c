#include "http/body.hpp"

#include <gtest/gtest.h>

namespace parley::http {
namespace {

Request post(std::string body, std::string content_type = "application/json") {
    std::vector<Request::Header> headers;
    if (!content_type.empty()) {
        headers.emplace_back("Content-Type", content_type);
    }
    Request r(Method::post, "/x", std::move(headers), std::move(body));
    r.set_json_max_depth(8);
    return r;
}

TEST(BodyTest, ReadsAnObject) {
    const auto o = read_json_object(post(R"({"a":1})"));
    ASSERT_TRUE(o.has_value());
    EXPECT_EQ(o->at("a").as_int64(), 1);
    EXPECT_TRUE(read_json_object(post(R"({"a":1})", "application/json; charset=utf-8")).has_value()
    );
    EXPECT_TRUE(read_json_object(post(R"({"a":1})", "Application/JSON")).has_value());
}

TEST(BodyTest, WrongContentTypeIs415) {
    for (const char* type :
         {"text/plain", "application/x-www-form-urlencoded", "", "application/jsonx"}) {
        const auto o = read_json_object(post(R"({"a":1})", type));
        ASSERT_FALSE(o.has_value()) << type;
        EXPECT_EQ(error_status(o.error().type), 415) << type;
    }
}

TEST(BodyTest, MalformedEmptyAndInvalidUtf8Are400) {
    for (const char* body : {"{", "", "   ", "{\"a\":\"\xff\"}"}) {
        const auto o = read_json_object(post(body));
        ASSERT_FALSE(o.has_value()) << body;
        EXPECT_EQ(error_status(o.error().type), 400) << body;
    }
}

TEST(BodyTest, TooDeepIs400) {
    const auto o = read_json_object(post(R"({"a":[[[[[[[[[1]]]]]]]]]})"));
    ASSERT_FALSE(o.has_value());
    EXPECT_EQ(error_status(o.error().type), 400);
    EXPECT_NE(o.error().message.find("deeper"), std::string::npos);
}

TEST(BodyTest, DuplicateKeysAre400AtAnyDepth) {
    for (const char* body : {
             R"({"email":"a@b.co","email":"c@d.co","password":"SecurePass123"})",
             R"({"metadata":{"role":"user","role":"admin"}})",
             R"({"a":[{"x":1,"x":2}]})",
         }) {
        const auto o = read_json_object(post(body));
        ASSERT_FALSE(o.has_value()) << body;
        EXPECT_EQ(error_status(o.error().type), 400) << body;
        EXPECT_EQ(error_type_name(o.error().type), "invalid_request_error");
        EXPECT_NE(o.error().message.find("duplicate key"), std::string::npos) << o.error().message;
    }
    EXPECT_TRUE(read_json_object(post(R"({"a":{"a":1},"b":[{"a":1},{"a":2}]})")).has_value());
}

TEST(BodyTest, NonObjectIs422) {
    for (const char* body : {"[1,2]", "\"text\"", "42", "null"}) {
        const auto o = read_json_object(post(body));
        ASSERT_FALSE(o.has_value()) << body;
        EXPECT_EQ(error_status(o.error().type), 422) << body;
    }
}

}  // namespace
}  // namespace parley::http
