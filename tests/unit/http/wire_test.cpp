#include "http/wire.hpp"

#include <gtest/gtest.h>

namespace parley::http {
namespace {

Response json_ok() {
    Response r;
    r.status = 200;
    r.content_type = "application/json";
    r.body = R"({"a":1})";
    r.set_header("X-Request-ID", "req_1");
    return r;
}

TEST(WireTest, SerialisesStatusHeadersLengthAndBody) {
    EXPECT_EQ(
        serialize_response(json_ok(), {}),
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-ID: req_1\r\n"
        "Content-Length: 7\r\n\r\n{\"a\":1}"
    );
}

TEST(WireTest, ConnectionHeaderFollowsKeepAliveAndVersion) {
    EXPECT_NE(
        serialize_response(json_ok(), {false, false, false}).find("\r\nConnection: close\r\n"),
        std::string::npos
    );
    EXPECT_NE(
        serialize_response(json_ok(), {true, true, false}).find("\r\nConnection: keep-alive\r\n"),
        std::string::npos
    );
    EXPECT_EQ(
        serialize_response(json_ok(), {true, false, false}).find("Connection:"), std::string::npos
    );
}

TEST(WireTest, HeadKeepsLengthButDropsBody) {
    const auto bytes = serialize_response(json_ok(), {true, false, true});
    EXPECT_NE(bytes.find("Content-Length: 7\r\n"), std::string::npos);
    EXPECT_EQ(bytes.substr(bytes.size() - 4), "\r\n\r\n");
}

TEST(WireTest, NoContentHasNoLengthOrBody) {
    Response r;
    r.status = 204;
    const auto bytes = serialize_response(r, {});
    EXPECT_EQ(bytes, "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST(WireTest, ReasonPhrases) {
    Response r;
    for (const auto& [status, line] : std::initializer_list<std::pair<int, std::string_view>>{
             {404, "HTTP/1.1 404 Not Found\r\n"},
             {413, "HTTP/1.1 413 Content Too Large\r\n"},
             {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
             {503, "HTTP/1.1 503 Service Unavailable\r\n"},
         }) {
        r.status = status;
        EXPECT_EQ(serialize_response(r, {}).rfind(line, 0), 0U) << status;
    }
}

}  // namespace
}  // namespace parley::http
