#include "http/pipeline.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "support/run_awaitable.hpp"

namespace parley::http {
namespace {

namespace bj = boost::json;

class PipelineTest : public ::testing::Test {
protected:
    PipelineTest()
        : router_({
              {Method::get,
               "/ok",
               Access::open,
               [](Request&) -> boost::asio::awaitable<Response> {
                   co_return success(bj::object{{"x", 1}});
               }},
              {Method::get,
               "/items/{id}",
               Access::open,
               [](Request& r) -> boost::asio::awaitable<Response> {
                   co_return success(bj::object{{"id", r.path_param("id")}});
               }},
              {Method::post,
               "/fail",
               Access::open,
               [](Request&) -> boost::asio::awaitable<Response> {
                   throw ErrorException(
                       make_error(ErrorType::conflict, "already there", "secret detail")
                   );
                   co_return Response{};
               }},
              {Method::get,
               "/crash",
               Access::open,
               [](Request&) -> boost::asio::awaitable<Response> {
                   throw std::runtime_error("internal secret: db password is hunter2");
                   co_return Response{};
               }},
          }),
          pipeline_(router_, metrics_, PipelineOptions{{"https://app.example.com"}, 0, false}) {}

    Response call(Method method, std::string target, std::vector<Request::Header> headers = {}) {
        Request req(method, std::move(target), std::move(headers), "");
        return testing::run_awaitable(pipeline_.handle(req));
    }

    static bj::object body(const Response& r) { return bj::parse(r.body).as_object(); }

    Metrics metrics_;
    Router router_;
    Pipeline pipeline_;
};

TEST_F(PipelineTest, SuccessCarriesEnvelopeAndSecurityHeaders) {
    const auto r = call(Method::get, "/ok");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(body(r).at("status").as_string(), "success");
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
    EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(r.header("Cache-Control"), "no-store");
    EXPECT_EQ(r.header("Strict-Transport-Security"), "");
    EXPECT_FALSE(r.header("X-Request-ID").empty());
}

TEST_F(PipelineTest, PathParametersReachTheHandler) {
    const auto r = call(Method::get, "/items/abc?x=1");
    EXPECT_EQ(body(r).at("data").at("id").as_string(), "abc");
}

TEST_F(PipelineTest, UnknownPathIs404WithStructuredError) {
    const auto r = call(Method::get, "/nope", {{"X-Request-ID", "trace-1"}});
    EXPECT_EQ(r.status, 404);
    const auto b = body(r);
    EXPECT_EQ(b.at("status").as_string(), "error");
    EXPECT_EQ(b.at("error").at("type").as_string(), "not_found_error");
    EXPECT_EQ(b.at("error").at("request_id").as_string(), "trace-1");
    EXPECT_EQ(r.header("X-Request-ID"), "trace-1");
}

TEST_F(PipelineTest, WrongMethodIs405WithAllow) {
    const auto r = call(Method::delete_, "/ok");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("Allow"), "GET, HEAD");
    EXPECT_EQ(body(r).at("error").at("type").as_string(), "invalid_request_error");
}

TEST_F(PipelineTest, ThrownErrorBecomesItsStatusWithoutDetail) {
    const auto r = call(Method::post, "/fail");
    EXPECT_EQ(r.status, 409);
    EXPECT_EQ(body(r).at("error").at("type").as_string(), "conflict_error");
    EXPECT_EQ(body(r).at("error").at("message").as_string(), "already there");
    EXPECT_EQ(r.body.find("secret detail"), std::string::npos);
}

TEST_F(PipelineTest, UnknownExceptionIs500WithoutInternals) {
    const auto r = call(Method::get, "/crash");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(body(r).at("error").at("type").as_string(), "api_error");
    EXPECT_EQ(r.body.find("hunter2"), std::string::npos);
}

TEST_F(PipelineTest, InsaneRequestIdIsReplaced) {
    const auto r = call(Method::get, "/ok", {{"X-Request-ID", "bad id\"with quotes"}});
    EXPECT_NE(r.header("X-Request-ID"), "bad id\"with quotes");
    EXPECT_EQ(r.header("X-Request-ID").rfind("req_", 0), 0U);
}

TEST_F(PipelineTest, PreflightFromAllowedOrigin) {
    const auto r = call(
        Method::options,
        "/ok",
        {{"Origin", "https://app.example.com"}, {"Access-Control-Request-Method", "POST"}}
    );
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "https://app.example.com");
    EXPECT_NE(r.header("Access-Control-Allow-Methods").find("POST"), std::string::npos);
    EXPECT_NE(r.header("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
    EXPECT_EQ(r.header("Vary"), "Origin");
}

TEST_F(PipelineTest, PreflightFromOtherOriginIsRefused) {
    const auto r = call(
        Method::options,
        "/ok",
        {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "POST"}}
    );
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), "");
    EXPECT_EQ(body(r).at("error").at("type").as_string(), "permission_error");
}

TEST_F(PipelineTest, SimpleRequestGetsAllowOriginOnlyWhenAllowed) {
    EXPECT_EQ(
        call(
            Method::get, "/ok", {{"Origin", "https://app.example.com"}}
        ).header("Access-Control-Allow-Origin"),
        "https://app.example.com"
    );
    EXPECT_EQ(
        call(
            Method::get, "/ok", {{"Origin", "https://evil.example"}}
        ).header("Access-Control-Allow-Origin"),
        ""
    );
}

TEST_F(PipelineTest, HstsOnlyWhenConfigured) {
    Pipeline with_tls(router_, metrics_, PipelineOptions{{}, 31536000, false});
    Request req(Method::get, "/ok", {}, "");
    const auto r = testing::run_awaitable(with_tls.handle(req));
    EXPECT_EQ(r.header("Strict-Transport-Security"), "max-age=31536000; includeSubDomains");
}

TEST_F(PipelineTest, MetricsCountByRouteTemplateAndStatus) {
    call(Method::get, "/items/1");
    call(Method::get, "/items/2");
    call(Method::get, "/nope");
    const auto text = metrics_.render();
    EXPECT_NE(
        text.find(R"(parley_http_requests_total{route="/items/{id}",method="GET",status="200"} 2)"),
        std::string::npos
    ) << text;
    EXPECT_NE(
        text.find(R"(parley_http_requests_total{route="unmatched",method="GET",status="404"} 1)"),
        std::string::npos
    );
    EXPECT_NE(
        text.find(
            R"(parley_http_request_duration_seconds_count{route="/items/{id}",method="GET"} 2)"
        ),
        std::string::npos
    );
}

TEST_F(PipelineTest, RejectShapesSessionErrors) {
    Request req;
    const auto r = pipeline_.reject(req, make_error(ErrorType::headers_too_large, "too big"));
    EXPECT_EQ(r.status, 431);
    EXPECT_EQ(body(r).at("error").at("type").as_string(), "request_too_large");
    EXPECT_EQ(r.header("X-Frame-Options"), "DENY");
}

}  // namespace
}  // namespace parley::http
