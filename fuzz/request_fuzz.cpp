// The inbound request path: the input is what a client sends on one connection (any number of
// pipelined requests, cut anywhere), served by the real session code (Beast's parser with the
// server's limits, the session's checks on the head, the pipeline with CORS, routing, body decoding
// and the one catch) over a loopback connection, since the session runs on a TCP socket. Whatever
// comes in, the session ends (no hang: the client's half-close is an end of input), and every
// response is a well-formed HTTP/1.x response that is not a 5xx.
#include <atomic>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/object.hpp>

#include "common/json.hpp"
#include "common/log.hpp"
#include "fuzz_input.hpp"
#include "http/body.hpp"
#include "http/pagination.hpp"
#include "http/session.hpp"

namespace asio = boost::asio;
namespace http = parley::http;
namespace json = parley::json;
using asio::ip::tcp;
using parley::fuzz::check;

namespace {

// A small route table with what real routes do: path parameters, query parameters (pages, times),
// a JSON body decoded strictly, a streamed body.
std::vector<http::Route> routes() {
    std::vector<http::Route> r;
    r.push_back(
        {http::Method::get,
         "/items/{id}",
         http::Access::open,
         [](http::Request& req) -> asio::awaitable<http::Response> {
             const auto page = parley::value_or_throw(http::parse_page(req));
             const auto from = parley::value_or_throw(http::time_param(req, "from"));
             co_return http::success(boost::json::object{
                 {"id", req.path_param("id")}, {"page", page.page}, {"from", from.has_value()}});
         }}
    );
    r.push_back(
        {http::Method::post,
         "/items",
         http::Access::open,
         [](http::Request& req) -> asio::awaitable<http::Response> {
             const auto body = parley::value_or_throw(http::read_json_object(req));
             parley::value_or_throw(json::reject_unknown_fields(body, {"title", "n"}));
             auto title = parley::value_or_throw(json::required_string(body, "title"));
             const auto n = parley::value_or_throw(json::optional_int(body, "n"));
             co_return http::success(
                 boost::json::object{{"title", std::move(title)}, {"n", n.value_or(0)}}, 201
             );
         }}
    );
    r.push_back(
        {http::Method::get,
         "/stream",
         http::Access::open,
         [](http::Request&) -> asio::awaitable<http::Response> {
             http::Response res;
             res.content_type = "text/event-stream";
             res.body_writer = [](http::StreamWriter& w) -> asio::awaitable<void> {
                 co_await w.send("data: one\n\n");
                 co_await w.send("data: two\n\n");
             };
             co_return res;
         }}
    );
    return r;
}

// Small limits, so that inputs of a few kilobytes reach them.
http::Limits small_limits() {
    http::Limits l;
    l.max_header_bytes = 2048;
    l.max_header_fields = 32;
    l.max_body_bytes = 1024;
    l.json_max_depth = 8;
    return l;
}

http::PipelineOptions pipeline_options() {
    http::PipelineOptions o;
    o.allowed_origins = {"https://app.example"};
    o.access_log = false;
    return o;
}

struct World {
    asio::io_context ioc{1};
    tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
    http::Metrics metrics;
    http::Router router{routes()};
    http::PipelineOptions options = pipeline_options();
    http::Limits limits = small_limits();
    std::atomic<bool> draining{false};
    std::vector<std::string> proxies{"127.0.0.1"};
    http::Pipeline pipeline{router, metrics, options};
    http::SessionShared shared{pipeline, limits, draining, proxies};
    http::ConnectionHub hub;
};

World& world() {
    static World* w = [] {
        parley::log::init(parley::log::Level::error);
        return new World();
    }();
    return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    World& w = world();
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);

    tcp::socket client(w.ioc);
    client.connect(w.acceptor.local_endpoint());
    tcp::socket server = w.acceptor.accept();
    asio::co_spawn(w.ioc, http::run_session(std::move(server), w.shared, w.hub), asio::detached);
    // Inputs are far smaller than a socket buffer: the write completes before the session reads.
    asio::write(client, asio::buffer(bytes));
    client.shutdown(tcp::socket::shutdown_send);
    w.ioc.run();  // returns when the session has closed its end
    w.ioc.restart();

    std::string out;
    boost::system::error_code ec;
    asio::read(client, asio::dynamic_buffer(out), ec);
    check(
        ec == asio::error::eof || ec == asio::error::connection_reset,
        "the session did not close the connection"
    );

    // Every status line: HTTP/1.x and a status below 500. (Bodies here are JSON or the stream's
    // two events, neither of which starts a line with "HTTP/1.".)
    for (std::size_t at = 0; at < out.size();) {
        const auto line = std::string_view(out).substr(at, 13);
        if (line.starts_with("HTTP/1.")) {
            check(line.size() == 13 && line[8] == ' ' && line[12] == ' ', "a bad status line");
            check(line[9] >= '1' && line[9] <= '4', "a 5xx or invalid status");
        } else {
            check(at != 0, "a response that does not start with a status line");
        }
        const auto next = out.find("\r\n", at);
        if (next == std::string::npos) {
            break;
        }
        at = next + 2;
    }
    return 0;
}
