#include "http/router.hpp"

#include <gtest/gtest.h>

namespace parley::http {
namespace {

Handler dummy() {
    return [](Request&) -> boost::asio::awaitable<Response> {
        co_return Response{};
    };
}

Router make_router() {
    return Router({
        {Method::get, "/health", Access::open, dummy()},
        {Method::get, "/api/v1/conversations", Access::open, dummy()},
        {Method::post, "/api/v1/conversations", Access::open, dummy()},
        {Method::get, "/api/v1/conversations/{id}", Access::open, dummy()},
        {Method::patch, "/api/v1/conversations/{id}", Access::open, dummy()},
        {Method::get, "/api/v1/conversations/{id}/messages/{message_id}", Access::open, dummy()},
    });
}

TEST(RouterTest, MatchesStaticPaths) {
    const auto r = make_router();
    const auto m = r.match(Method::get, "/health");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->route->path, "/health");
    EXPECT_TRUE(m->params.empty());
}

TEST(RouterTest, CapturesPathParameters) {
    const auto r = make_router();
    const auto m = r.match(Method::get, "/api/v1/conversations/abc/messages/def");
    ASSERT_TRUE(m);
    ASSERT_EQ(m->params.size(), 2U);
    EXPECT_EQ(m->params[0], (std::pair<std::string, std::string>{"id", "abc"}));
    EXPECT_EQ(m->params[1], (std::pair<std::string, std::string>{"message_id", "def"}));
}

TEST(RouterTest, MethodSelectsTheRoute) {
    const auto r = make_router();
    ASSERT_TRUE(r.match(Method::post, "/api/v1/conversations"));
    EXPECT_EQ(r.match(Method::post, "/api/v1/conversations")->route->method, Method::post);
    EXPECT_FALSE(r.match(Method::delete_, "/api/v1/conversations"));
}

TEST(RouterTest, HeadMatchesGet) {
    const auto r = make_router();
    const auto m = r.match(Method::head, "/health");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->route->method, Method::get);
}

TEST(RouterTest, NoMatchForUnknownOrMalformedPaths) {
    const auto r = make_router();
    EXPECT_FALSE(r.match(Method::get, "/nope"));
    EXPECT_FALSE(r.match(Method::get, "/health/"));                // one canonical URL
    EXPECT_FALSE(r.match(Method::get, "/api/v1/conversations/"));  // empty parameter
    EXPECT_FALSE(r.match(Method::get, "/api/v1/conversations/a/b"));
    EXPECT_FALSE(r.match(Method::get, "health"));
    EXPECT_FALSE(r.match(Method::get, ""));
}

TEST(RouterTest, AllowedMethodsForPath) {
    const auto r = make_router();
    EXPECT_EQ(
        r.allowed_methods("/api/v1/conversations/x"),
        (std::vector<Method>{Method::get, Method::patch})
    );
    EXPECT_EQ(
        r.allowed_methods("/api/v1/conversations"), (std::vector<Method>{Method::get, Method::post})
    );
    EXPECT_TRUE(r.allowed_methods("/nope").empty());
}

TEST(RouterTest, RejectsTemplatesWithoutLeadingSlash) {
    EXPECT_THROW(Router({{Method::get, "health", Access::open, dummy()}}), std::invalid_argument);
}

}  // namespace
}  // namespace parley::http
