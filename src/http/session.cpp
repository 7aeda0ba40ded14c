#include "http/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "common/log.hpp"
#include "http/wire.hpp"

namespace parley::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

class Session final : public IdleClosable {
public:
    Session(asio::ip::tcp::socket socket, SessionShared& shared, ConnectionHub& hub)
        : stream_(std::move(socket)),
          shared_(shared),
          hub_(hub) {
        boost::system::error_code ec;
        const auto endpoint = stream_.socket().remote_endpoint(ec);
        if (!ec) {
            client_ip_ = endpoint.address().to_string();
        }
        hub_.add(this);
    }

    ~Session() { hub_.remove(this); }

    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void close_if_idle() override {
        if (idle_) {
            stream_.cancel();
        }
    }

    asio::awaitable<void> run() {
        const auto& limits = shared_.limits;
        bool first = true;
        while (!shared_.draining.load(std::memory_order_relaxed)) {
            // A new connection has the header timeout from its accept to the end of its first
            // request's headers. A kept-alive one waits up to the idle timeout for the next
            // request's first byte, then has the header timeout from that byte.
            if (first) {
                stream_.expires_after(limits.header_timeout);
            }
            if (buffer_.size() == 0) {
                idle_ = true;
                if (!first) {
                    stream_.expires_after(limits.idle_timeout);
                }
                auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), kTuple);
                idle_ = false;
                if (ec) {
                    break;  // EOF, reset, timeout, or closed by a drain
                }
                buffer_.commit(n);
                if (!first) {
                    stream_.expires_after(limits.header_timeout);
                }
            } else if (!first) {
                stream_.expires_after(limits.header_timeout);  // pipelined: bytes already here
            }
            first = false;

            bhttp::request_parser<bhttp::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
            parser.body_limit(limits.max_body_bytes);
            auto [hec, hn] = co_await bhttp::async_read_header(stream_, buffer_, parser, kTuple);
            if (hec) {
                co_await reject_read_error(hec, parser.get());
                break;
            }
            if (!parser.is_done()) {
                const auto& head = parser.get();
                const auto expect = head[bhttp::field::expect];
                if (beast::iequals(expect, "100-continue")) {
                    bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
                    auto [cec, cn] = co_await bhttp::async_write(stream_, cont, kTuple);
                    if (cec) {
                        break;
                    }
                }
                stream_.expires_after(limits.body_timeout);
                auto [bec, bn] = co_await bhttp::async_read(stream_, buffer_, parser, kTuple);
                if (bec) {
                    co_await reject_read_error(bec, parser.get());
                    break;
                }
            }
            stream_.expires_never();

            auto message = parser.release();
            WireOptions wire;
            wire.http10 = message.version() == 10;
            wire.head_request = message.method() == bhttp::verb::head;
            Request req = to_request(message.base(), std::move(message.body()));
            const Response res = co_await shared_.pipeline.handle(req);
            wire.keep_alive =
                message.keep_alive() && !shared_.draining.load(std::memory_order_relaxed);
            if (!co_await write(res, wire) || !wire.keep_alive) {
                break;
            }
        }
        boost::system::error_code ec;
        stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
        stream_.socket().close(ec);
    }

private:
    // Parley's request from Beast's; `body` is moved from when given.
    Request to_request(const bhttp::request_header<>& head, std::string body) {
        std::vector<Request::Header> headers;
        headers.reserve(8);
        for (const auto& field : head) {
            headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
        Request req(
            parse_method(head.method_string()),
            std::string(head.target()),
            std::move(headers),
            std::move(body)
        );
        req.set_client_ip(client_ip_);
        req.set_json_max_depth(shared_.limits.json_max_depth);
        return req;
    }

    // Writes `res` in one buffer; false when the connection broke.
    asio::awaitable<bool> write(const Response& res, const WireOptions& options) {
        const std::string bytes = serialize_response(res, options);
        stream_.expires_after(shared_.limits.body_timeout);
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(bytes), kTuple);
        stream_.expires_never();
        co_return !ec;
    }

    // `partial` is what the parser read before the error (the request line and headers, when
    // it got that far), so the rejection is logged and counted under the right method and path.
    asio::awaitable<void> reject_read_error(
        boost::system::error_code ec, const bhttp::request_header<>& partial
    ) {
        Error error;
        if (ec == bhttp::error::header_limit) {
            error =
                make_error(ErrorType::headers_too_large, "request headers exceed the size limit");
        } else if (ec == bhttp::error::body_limit) {
            error = make_error(ErrorType::request_too_large, "request body exceeds the size limit");
        } else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() && ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
            error = make_error(ErrorType::invalid_request, "malformed HTTP request");
        } else {
            co_return;
        }
        Request req = to_request(partial, {});
        const Response res = shared_.pipeline.reject(req, error);
        if (co_await write(res, WireOptions{false, false, false})) {
            co_await drain_then_close();
        }
    }

    // After an early error response, the client may still be sending its body; closing at once
    // would reset the connection and could destroy the response before the client reads it. Half-
    // close, read and discard for a short while, then close.
    asio::awaitable<void> drain_then_close() {
        boost::system::error_code ec;
        stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
        stream_.expires_after(std::chrono::seconds(2));
        std::size_t total = 0;
        while (total < 16 * 1024 * 1024) {
            buffer_.clear();
            auto [rec, n] = co_await stream_.async_read_some(buffer_.prepare(64 * 1024), kTuple);
            if (rec) {
                break;
            }
            total += n;
        }
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    SessionShared& shared_;
    ConnectionHub& hub_;
    std::string client_ip_;
    bool idle_ = false;
};

}  // namespace

asio::awaitable<void> run_session(
    asio::ip::tcp::socket socket, SessionShared& shared, ConnectionHub& hub
) {
    try {
        Session session(std::move(socket), shared, hub);
        co_await session.run();
    } catch (const std::exception& e) {
        log::error("session failed", {{"what", e.what()}});
    }
}

}  // namespace parley::http
