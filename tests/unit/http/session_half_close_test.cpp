// The session over a loopback connection, for what only the socket shows: how it ends after the
// client half-closes.
#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "http/session.hpp"

namespace parley::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// A client that sends `bytes`, shuts down its sending side (as a client that has nothing more to
// ask does) and reads until the server closes. Returns what it read and how long the server took
// to close after the request, served by run_session with `routes`.
struct Exchange {
    std::string response;
    std::chrono::milliseconds took;
};

Exchange exchange(std::vector<Route> routes, std::string_view bytes) {
    asio::io_context ioc;
    tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    Metrics metrics;
    Router router(std::move(routes));
    PipelineOptions options;
    options.access_log = false;
    Pipeline pipeline(router, metrics, options);
    Limits limits;  // the defaults: a 75 s idle timeout between requests
    std::atomic<bool> draining{false};
    std::vector<std::string> proxies;
    SessionShared shared{pipeline, limits, draining, proxies};
    ConnectionHub hub;

    tcp::socket client(ioc);
    client.connect(acceptor.local_endpoint());
    asio::co_spawn(ioc, run_session(acceptor.accept(), shared, hub), asio::detached);
    asio::write(client, asio::buffer(bytes));
    client.shutdown(tcp::socket::shutdown_send);
    const auto start = std::chrono::steady_clock::now();
    std::thread server([&ioc] { ioc.run(); });
    Exchange out;
    boost::system::error_code ec;
    asio::read(client, asio::dynamic_buffer(out.response), ec);
    out.took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start
    );
    if (ec != asio::error::eof) {
        ADD_FAILURE() << "the read ended with " << ec.message();
    }
    ioc.stop();
    server.join();
    return out;
}

Route stream_route() {
    return {Method::get, "/stream", Access::open, [](Request&) -> asio::awaitable<Response> {
                Response res;
                res.content_type = "text/event-stream";
                res.body_writer = [](StreamWriter& w) -> asio::awaitable<void> {
                    co_await w.send("data: one\n\n");
                    co_await w.send("data: two\n\n");
                };
                co_return res;
            }};
}

// Found by fuzz/request_fuzz.cpp: the disconnect watch beside a stream took the client's EOF, and
// the session then waited for another request until the idle timeout (75 s) instead of closing.
TEST(SessionHalfCloseTest, AClientThatHalfClosesDuringAStreamIsClosedAtItsEnd) {
    const auto out = exchange({stream_route()}, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_LT(out.took, std::chrono::seconds(5));
    EXPECT_TRUE(out.response.starts_with("HTTP/1.1 200 ")) << out.response;
}

// What the client sent before its EOF is still served: a request pipelined behind the stream.
TEST(SessionHalfCloseTest, ARequestPipelinedBehindAStreamIsServedBeforeClosing) {
    const auto out = exchange(
        {stream_route()},
        "GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    EXPECT_LT(out.took, std::chrono::seconds(5));
    std::size_t responses = 0;
    for (auto at = out.response.find("HTTP/1.1 200 "); at != std::string::npos;
         at = out.response.find("HTTP/1.1 200 ", at + 1)) {
        ++responses;
    }
    EXPECT_EQ(responses, 2U) << out.response;
}

}  // namespace
}  // namespace parley::http
