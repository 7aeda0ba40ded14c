#include "stream_upstream.hpp"

#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <sys/prctl.h>
#include <unistd.h>

namespace parley::bench {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using asio::awaitable;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);

void log_exception(const std::exception_ptr& e) {
    if (!e) {
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        std::cerr << "stream_load: " << ex.what() << '\n';
    }
}

// The request's "model" value (Parley serialises with Boost.JSON: no escapes in model ids), or a
// default when there is none.
std::string request_model(std::string_view body) {
    const auto key = body.find("\"model\"");
    if (key == std::string_view::npos) {
        return "gpt-4o-mini";
    }
    auto pos = body.find(':', key + 7);
    while (pos != std::string_view::npos && pos + 1 < body.size() &&
           (body[pos + 1] == ' ' || body[pos + 1] == '\t')) {
        ++pos;
    }
    if (pos == std::string_view::npos || pos + 1 >= body.size() || body[pos + 1] != '"') {
        return "gpt-4o-mini";
    }
    const auto end = body.find('"', pos + 2);
    if (end == std::string_view::npos) {
        return "gpt-4o-mini";
    }
    return std::string(body.substr(pos + 2, end - pos - 2));
}

// Whether the request asks for a stream (`"stream": true`).
bool wants_stream(std::string_view body) {
    const auto key = body.find("\"stream\"");
    if (key == std::string_view::npos) {
        return false;
    }
    auto v = body.find(':', key + 8);
    while (v != std::string_view::npos && v + 1 < body.size() && body[v + 1] == ' ') {
        ++v;
    }
    return v != std::string_view::npos && body.substr(v + 1).starts_with("true");
}

// The non-streaming answer (a chat.completion with the same text), sent at once.
std::string completion_response(std::string_view model, int deltas) {
    std::string text;
    for (int k = 1; k <= deltas; ++k) {
        text += "tok" + std::to_string(k) + " ";
    }
    const std::string body =
        R"({"id":"chatcmpl-bench","object":"chat.completion","created":1694268190,"model":")" +
        std::string(model) +
        R"(","choices":[{"index":0,"message":{"role":"assistant","content":")" + text +
        R"("},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,)" +
        R"("completion_tokens":)" + std::to_string(deltas) + R"(,"total_tokens":)" +
        std::to_string(deltas + 9) + "}}";
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Appends one SSE event framed as one HTTP chunk.
void append_chunk(std::string& out, std::string_view event) {
    std::array<char, 24> size{};
    const int n = std::snprintf(size.data(), size.size(), "%zx\r\n", event.size());
    out.append(size.data(), static_cast<std::size_t>(n));
    out.append(event);
    out.append("\r\n");
}

// Writes as much of `out` as the socket takes without blocking (the socket is in non-blocking
// mode) and drops it from `out`; false on a connection error. Saves a turn of the event loop per
// delta compared with async_write, which matters at thousands of streams.
bool write_now(tcp::socket& socket, std::string_view& out) {
    boost::system::error_code ec;
    const std::size_t n = socket.write_some(asio::buffer(out), ec);
    if (ec && ec != asio::error::would_block) {
        return false;
    }
    out.remove_prefix(ec ? 0 : n);
    return true;
}

// Sends `out` whole; false when the client went away.
awaitable<bool> send(tcp::socket& socket, std::string_view out) {
    if (!write_now(socket, out)) {
        co_return false;
    }
    if (out.empty()) {
        co_return true;
    }
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(out), kTok);
    co_return !ec;
}

// Writes the whole answer; false when the client went away.
awaitable<bool> write_stream(tcp::socket& socket, std::string model, UpstreamOptions opts) {
    const std::string head =
        std::string(R"(data: {"id":"chatcmpl-bench","object":"chat.completion.chunk",)"
                    R"("created":1694268190,"model":")") +
        model + R"(","choices":[)";
    const std::string open_delta = head + R"({"index":0,"delta":{)";
    const std::string close_delta = R"(},"logprobs":null,"finish_reason":null}],"usage":null})"
                                    "\n\n";

    std::string out =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    append_chunk(out, open_delta + R"("role":"assistant","content":"")" + close_delta);
    if (!co_await send(socket, out)) {
        co_return false;
    }
    asio::steady_timer timer(socket.get_executor());
    const auto start = Clock::now();
    std::string event;
    for (int k = 1; k <= opts.deltas; ++k) {
        if (opts.gap_ms > 0) {
            // Absolute deadlines: the schedule does not drift when a tick is late.
            timer.expires_at(start + std::chrono::milliseconds(opts.gap_ms) * k);
            co_await timer.async_wait(kTok);
        }
        out.clear();
        event.clear();
        event.append(open_delta).append(R"("content":"tok)").append(std::to_string(k));
        event.append(" \"").append(close_delta);
        append_chunk(out, event);
        if (k == opts.deltas) {
            append_chunk(
                out,
                head + R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],)"
                       R"("usage":null})"
                       "\n\n"
            );
            append_chunk(
                out,
                head + R"(],"usage":{"prompt_tokens":9,"completion_tokens":)" +
                    std::to_string(opts.deltas) + R"(,"total_tokens":)" +
                    std::to_string(opts.deltas + 9) + "}}\n\n"
            );
            append_chunk(out, "data: [DONE]\n\n");
            out.append("0\r\n\r\n");
        }
        if (!co_await send(socket, out)) {
            co_return false;
        }
    }
    co_return true;
}

// `opts` is the server's own (one thread): `POST /bench/gap-ms` changes the gap of later streams.
awaitable<void> upstream_session(tcp::socket socket, UpstreamOptions& opts) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.non_blocking(true, ignored);
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(std::uint64_t{16} << 20);
        if (auto [ec, n] = co_await http::async_read(socket, buffer, parser, kTok); ec) {
            break;
        }
        const auto& req = parser.get();
        const std::string_view target = req.target();
        const std::string_view path = target.substr(0, target.find('?'));
        if (req.method() == http::verb::post && path.ends_with("/chat/completions")) {
            if (!wants_stream(req.body())) {
                const std::string out = completion_response(request_model(req.body()), opts.deltas);
                if (!co_await send(socket, out)) {
                    break;
                }
            } else if (!co_await write_stream(socket, request_model(req.body()), opts)) {
                break;
            }
        } else if (req.method() == http::verb::post &&
                   (path == "/bench/gap-ms" || path == "/bench/deltas")) {
            // Reshapes later answers through the same upstream: the held-streams level of
            // bench/stream.sh (long streams), bench/stream-instructions.sh (two answer lengths).
            const int value = std::atoi(req.body().c_str());
            const bool gap = path == "/bench/gap-ms";
            const bool ok = gap ? value >= 0 && value <= 60'000 : value >= 1 && value <= 100'000;
            if (ok) {
                (gap ? opts.gap_ms : opts.deltas) = value;
            }
            const std::string out = ok ? "HTTP/1.1 204 No Content\r\n\r\n"
                                       : "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
            if (!co_await send(socket, out)) {
                break;
            }
        } else {
            static constexpr std::string_view kBody =
                R"({"error":{"message":"not found","type":"invalid_request_error"}})";
            std::string out =
                "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                "Content-Length: " +
                std::to_string(kBody.size()) + "\r\n\r\n" + std::string(kBody);
            if (!co_await send(socket, out)) {
                break;
            }
        }
        if (!req.keep_alive()) {
            break;
        }
    }
    socket.shutdown(tcp::socket::shutdown_send, ignored);
}

awaitable<void> accept_loop(tcp::acceptor& acceptor, UpstreamOptions& opts) {
    asio::steady_timer backoff(acceptor.get_executor());
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(kTok);
        if (ec == asio::error::operation_aborted) {
            co_return;
        }
        if (ec) {
            // Out of descriptors: wait for streams to end rather than spin.
            std::cerr << "upstream: accept: " << ec.message() << '\n';
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(kTok);
            continue;
        }
        asio::co_spawn(
            acceptor.get_executor(), upstream_session(std::move(socket), opts), log_exception
        );
        // Drain the accept queue now: one accept per turn of the event loop would admit a few
        // hundred connections a second once thousands of streams keep the loop busy.
        for (;;) {
            boost::system::error_code drain_ec;
            tcp::socket next = acceptor.accept(drain_ec);
            if (drain_ec) {
                break;
            }
            asio::co_spawn(
                acceptor.get_executor(), upstream_session(std::move(next), opts), log_exception
            );
        }
    }
}

}  // namespace

int run_upstream(UpstreamOptions opts) {
    // Started in the background by a benchmark script: end with it, even when the script is
    // killed or exits through a path that does not stop us.
    const pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        return 0;
    }
    asio::io_context io(1);
    tcp::acceptor acceptor(io);
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), opts.port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    acceptor.non_blocking(true);
    std::cout << "listening " << acceptor.local_endpoint().port() << std::endl;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    asio::co_spawn(io, accept_loop(acceptor, opts), log_exception);
    io.run();
    return 0;
}

}  // namespace parley::bench
