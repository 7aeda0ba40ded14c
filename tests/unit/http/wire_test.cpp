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

TEST(WireTest, StreamHeadIsChunkedWithoutLength) {
    Response r;
    r.status = 200;
    r.content_type = "text/event-stream; charset=utf-8";
    r.set_header("Cache-Control", "no-cache");
    EXPECT_EQ(
        serialize_stream_head(r, {}),
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
}

TEST(WireTest, StreamHeadForHttp10EndsWithTheConnection) {
    Response r;
    r.status = 200;
    r.content_type = "text/event-stream";
    WireOptions o;
    o.http10 = true;
    EXPECT_EQ(
        serialize_stream_head(r, o),
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    );
}

TEST(WireTest, ChunksAreHexLengthFramedAndEmptyDataWritesNothing) {
    std::string out;
    append_chunk(out, "data: hi\n\n", false);
    append_chunk(out, "", false);  // an empty chunk would end the body
    append_chunk(out, std::string(26, 'x'), false);
    EXPECT_EQ(out, "a\r\ndata: hi\n\n\r\n1a\r\n" + std::string(26, 'x') + "\r\n");
    std::string plain;
    append_chunk(plain, "data: hi\n\n", true);
    EXPECT_EQ(plain, "data: hi\n\n");
    EXPECT_EQ(kLastChunk, "0\r\n\r\n");
}

// What a write did not take of a chunk: the framed chunk less its first `skip` bytes, cut in its
// size line, its data or its last CRLF.
TEST(WireTest, ChunkRestAfterAPartialWrite) {
    const std::string whole = "a\r\ndata: hi\n\n\r\n";
    for (std::size_t skip = 0; skip <= whole.size(); ++skip) {
        std::string rest;
        append_chunk(rest, "data: hi\n\n", false, skip);
        EXPECT_EQ(rest, whole.substr(skip)) << skip;
    }
    std::string plain;
    append_chunk(plain, "data: hi\n\n", true, 3);
    EXPECT_EQ(plain, "a: hi\n\n");
}

}  // namespace
}  // namespace parley::http
