// The HTTP/1.1 connection state machine behind run_session(), as a template over its stream so
// that unit tests can drive it over boost::beast::test::stream (tests/unit/http/session_test.cpp).
// Internal to http/: included by session.cpp and that test only; Beast is in this header.
#pragma once

#include <array>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "async/event.hpp"
#include "common/log.hpp"
#include "common/release.hpp"
#include "http/session.hpp"
#include "http/websocket_session.hpp"
#include "http/wire.hpp"

namespace parley::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace session_detail {

inline constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
inline constexpr std::size_t kMaxBufferedWhileStreaming = 64 * 1024;

}  // namespace session_detail

// `Stream` is beast::tcp_stream on a server, or a test transport with the same calls: an
// AsyncStream with expires_after, expires_never, cancel, and socket() offering the untimed
// async_read_some, shutdown, close and remote_endpoint.
template <class Stream>
class Session final : public IdleClosable {
    static constexpr auto kTuple = session_detail::kTuple;
    static constexpr auto kMaxBufferedWhileStreaming = session_detail::kMaxBufferedWhileStreaming;

public:
    Session(Stream stream, SessionShared& shared, ConnectionHub& hub)
        : stream_(std::move(stream)),
          shared_(shared),
          hub_(hub),
          shutdown_(stream_.get_executor()) {
        boost::system::error_code ec;
        const auto endpoint = stream_.socket().remote_endpoint(ec);
        if (!ec) {
            client_ip_ = endpoint.address().to_string();
        }
        hub_.add(this);
    }

    ~Session() {
        *self_ = nullptr;  // a watch read still queued finds no session
        hub_.remove(this);
    }

    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Called while the server drains: an idle connection closes now; a stream (or a handler
    // waiting on the client, or a WebSocket) is told to finish.
    void close_if_idle() override {
        if (idle_) {
            stream_.cancel();
        } else {
            shutdown_.set();
            tell_sink(CloseReason::shutdown);
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
                if (peer_closed_) {
                    // The client ended its side while a response was written (the disconnect
                    // watch read its EOF): no request can follow. Reading again would wait for
                    // the idle timeout, as the EOF was already taken.
                    break;
                }
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

            // The parser (with the message it builds) is on the heap, and goes before a response
            // streams; refusals, `100 Continue` and WebSocket upgrades run in coroutines of their
            // own. This frame lives as long as the connection, and g++ keeps a slot in it for
            // every local and temporary of the loop (issue 14, memory per open stream).
            auto parser = std::make_unique<bhttp::request_parser<bhttp::string_body>>();
            parser->header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
            parser->body_limit(limits.max_body_bytes);
            auto [hec, hn] = co_await bhttp::async_read_header(stream_, buffer_, *parser, kTuple);
            if (hec) {
                co_await reject_read_error(hec, parser->get());
                break;
            }
            if (const auto refused = check_head(parser->get(), parser->chunked())) {
                co_await reject(*refused, parser->get());
                break;
            }
            if (!parser->is_done()) {
                if (beast::iequals(parser->get()[bhttp::field::expect], "100-continue") &&
                    !co_await write_continue()) {
                    break;
                }
                stream_.expires_after(limits.body_timeout);
                auto [bec, bn] = co_await bhttp::async_read(stream_, buffer_, *parser, kTuple);
                if (bec) {
                    co_await reject_read_error(bec, parser->get());
                    break;
                }
            }
            stream_.expires_never();

            auto& message = parser->get();
            WireOptions wire;
            wire.http10 = message.version() == 10;
            wire.head_request = message.method() == bhttp::verb::head;
            Request req = to_request(message.base(), std::move(message.body()));
            req.set_close_watch([this](std::function<void(CloseReason)> sink) {
                watch(std::move(sink));
            });
            Response res = co_await shared_.pipeline.handle(req);
            close_sink_ = nullptr;  // a handler's watch ends with it
            if (watch_reading_ && !res.body_writer) {
                co_await stop_watch();  // (a streamed body's watch reads on)
            }
            wire.keep_alive =
                message.keep_alive() && !shared_.draining.load(std::memory_order_relaxed);
            if (res.websocket && res.status == 101) {
                if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
                    co_await upgrade(std::move(parser), res);
                    co_return;  // the connection was the WebSocket's
                } else {
                    break;  // WebSocket sessions run over TCP only
                }
            }
            parser.reset();
            if (res.body_writer) {
                // Nothing reads the request while its body streams: its headers, target and
                // body go now rather than at the stream's end (issue 14: memory per open stream).
                release(req);
                if (!co_await stream_body(res, wire) || !wire.keep_alive) {
                    break;
                }
                continue;
            }
            if (!co_await write(res, wire) || !wire.keep_alive) {
                break;
            }
        }
        boost::system::error_code ec;
        stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
        stream_.socket().close(ec);
    }

private:
    // `100 Continue`, for a client that waits for it before sending the body; false when the
    // connection broke.
    asio::awaitable<bool> write_continue() {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
        auto [ec, n] = co_await bhttp::async_write(stream_, cont, kTuple);
        co_return !ec;
    }

    // Hands the connection to the WebSocket session `res` accepted, until it ends.
    asio::awaitable<void> upgrade(
        std::unique_ptr<bhttp::request_parser<bhttp::string_body>> parser, const Response& res
    ) {
        co_await run_websocket(
            std::move(stream_), parser->release(), res, shared_.limits, shutdown_
        );
    }

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
        if (shared_.trusted_proxies.empty()) {
            req.set_client_ip(client_ip_);
        } else {
            req.set_client_ip(
                client_address(client_ip_, req.header("X-Forwarded-For"), shared_.trusted_proxies)
            );
        }
        req.set_json_max_depth(shared_.limits.json_max_depth);
        return req;
    }

    // Writes `res` in one buffer; false when the connection broke.
    asio::awaitable<bool> write(const Response& res, const WireOptions& options) {
        co_return co_await write_bytes(serialize_response(res, options));
    }

    // The connection's watch, without a coroutine: one read at a time on the socket, whose
    // handler keeps what arrives (a pipelined request) and tells `sink` on EOF or a reset; a
    // drain tells it from close_if_idle(); at once when either happened already. A handler's
    // (Request::watch_close()) and then, when the response streams, its body writer's: the same
    // read goes on. (A `||` of the handler's wait and a watching coroutine, itself a `||` of a
    // read loop and the drain, co_spawned four coroutines at a stream's start, and a `||` beside
    // the body writer held two for the whole stream: issue 14.) stop_watch() must follow before
    // what `sink` refers to goes.
    void watch(std::function<void(CloseReason)> sink) {
        close_sink_ = std::move(sink);
        if (!close_sink_) {
            return;
        }
        if (shared_.draining.load(std::memory_order_relaxed) || shutdown_.is_set()) {
            tell_sink(CloseReason::shutdown);
            return;
        }
        if (peer_closed_) {
            tell_sink(CloseReason::client_left);  // an earlier watch read the end
            return;
        }
        if (!watch_reading_) {
            if (buffer_.size() == 0) {
                buffer_.shrink_to_fit();  // the request's read buffer: the watch reads little
            }
            read_for_watch();
        }
    }

    // Calls a handler's sink, once: it is dropped first (a drain repeats close_if_idle()).
    void tell_sink(CloseReason why) {
        if (close_sink_) {
            const auto sink = std::move(close_sink_);
            close_sink_ = nullptr;
            sink(why);
        }
    }

    // Where a watch reads what the client sends during a response. On the socket itself:
    // tcp_stream's timeout belongs to the writes meanwhile. Small reads: a client seldom sends
    // anything during a stream, and the buffer lives as long.
    beast::flat_buffer::mutable_buffers_type watch_buffer() {
        if (buffer_.size() >= kMaxBufferedWhileStreaming) {
            buffer_.clear();  // a client flooding a stream: its later requests are lost
            flooded_ = true;
        }
        return buffer_.prepare(512);
    }

    void read_for_watch() {
        watch_reading_ = true;
        stream_.socket().async_read_some(
            watch_buffer(),
            [self = self_](boost::system::error_code ec, std::size_t n) {
                if (*self != nullptr) {
                    (*self)->watch_read(ec, n);
                }
            }
        );
    }

    void watch_read(boost::system::error_code ec, std::size_t n) {
        watch_reading_ = false;
        if (ec == asio::error::operation_aborted) {
            return;  // the stream ended (stop_watch), or the session closed the socket
        }
        if (ec) {
            peer_closed_ = true;
            tell_sink(CloseReason::client_left);
            return;
        }
        buffer_.commit(n);
        if (close_sink_) {
            read_for_watch();
        }
    }

    // Forgets the watched writer however the body writer ends; a read still pending then
    // completes without touching it (the session that owns it is then on its way out).
    struct Unwatch {
        Session& session;

        ~Unwatch() { session.close_sink_ = nullptr; }
    };

    // Ends the watch: cancels its read and waits until its handler has run (it touches the
    // session's buffer, which the next request reads).
    asio::awaitable<void> stop_watch() {
        close_sink_ = nullptr;
        if (!watch_reading_) {
            co_return;
        }
        stream_.cancel();  // (nothing else is pending: the body writer has returned)
        const auto executor = co_await asio::this_coro::executor;
        while (watch_reading_) {
            co_await asio::post(executor, asio::use_awaitable);
        }
    }

    class SseWriter final : public StreamWriter {
    public:
        SseWriter(Session& session, bool http10)
            : session_(session),
              http10_(http10),
              closed_(session.stream_.get_executor()) {}

        asio::awaitable<bool> send(std::string bytes) override {
            if (!try_send(bytes)) {
                co_await flush();
            }
            co_return usable();
        }

        bool try_send(std::string_view bytes) override {
            if (!usable()) {
                return true;  // the client is gone: a no-op
            }
            if (!left_.empty()) {
                append_chunk(left_, bytes, http10_);  // behind the bytes still waiting
                return false;
            }
            if (bytes.empty()) {
                return true;  // an empty chunk would end the body
            }
            // The chunk's framing goes around the bytes in one gathered write; only what the
            // socket does not take at once is copied (the framed chunk's unsent end), for flush().
            const ChunkFrame frame(bytes.size(), http10_);
            const std::array<asio::const_buffer, 3> pieces{
                asio::buffer(frame.head()), asio::buffer(bytes), asio::buffer(frame.tail())};
            bool ok = true;
            const std::size_t done = session_.write_buffers_now(pieces, ok);
            if (!ok) {
                break_off();
                return true;
            }
            if (done == asio::buffer_size(pieces)) {
                return true;
            }
            append_chunk(left_, bytes, http10_, done);
            return false;
        }

        asio::awaitable<bool> flush() override {
            if (usable() && !left_.empty()) {
                std::string rest = std::move(left_);
                left_.clear();
                if (!co_await session_.write_bytes(std::move(rest))) {
                    break_off();
                }
            }
            co_return usable();
        }

        asio::awaitable<CloseReason> closed() override {
            co_await closed_.wait();
            co_return reason_;
        }

        CloseReason close_reason() const noexcept override { return reason_; }

        void on_close(std::function<void(CloseReason)> sink) override {
            on_close_ = std::move(sink);
        }

        asio::awaitable<void> draining() override {
            if (!session_.shared_.draining.load(std::memory_order_relaxed)) {
                co_await session_.shutdown_.wait();
            }
        }

        void mark_closed(CloseReason reason) {
            if (reason_ == CloseReason::none) {
                reason_ = reason;
                closed_.set();
                if (on_close_) {
                    on_close_(reason);
                }
            }
        }

        bool broken() const noexcept { return broken_; }

    private:
        // Whether writes still go out: the client has not left and no write failed (a drain
        // still lets the goodbye out).
        bool usable() const noexcept {
            return !broken_ && (reason_ == CloseReason::none || reason_ == CloseReason::shutdown);
        }

        void break_off() {
            broken_ = true;
            left_.clear();
            mark_closed(CloseReason::client_left);
        }

        Session& session_;
        bool http10_;
        bool broken_ = false;
        std::string left_;  // framed bytes try_send() could not write at once, for flush()
        CloseReason reason_ = CloseReason::none;
        async::Event closed_;
        std::function<void(CloseReason)> on_close_;
    };

    // Writes the head, runs the body writer beside a disconnect watch, ends the chunked body.
    // False when the connection cannot be reused.
    asio::awaitable<bool> stream_body(Response& res, const WireOptions& options) {
        if (!co_await write_bytes(serialize_stream_head(res, options))) {
            co_return false;
        }
        // The head is out: its headers are not needed while the body writer runs.
        release(res.headers);
        release(res.content_type);
        SseWriter writer(*this, options.http10);
        watch([&writer](CloseReason why) { writer.mark_closed(why); });  // (frees the read buffer)
        const Unwatch unwatch{*this};  // (a body writer that throws leaves no dangling watch)
        co_await res.body_writer(writer);
        co_await stop_watch();
        if (writer.broken() || writer.close_reason() == CloseReason::client_left) {
            co_return false;
        }
        if (options.http10) {
            co_return false;  // the body ends with the connection
        }
        co_return co_await write_bytes(std::string(kLastChunk)) && !flooded_;
    }

    // A stream's writes usually fit in the socket's send buffer: on a real socket each is tried
    // at once, and only what the socket does not take waits (with the body timeout) for the event
    // loop. That saves a turn of the loop and a timer per delta. (The in-memory test transport's
    // non-blocking writes take nothing unless a test turns them on: every write then goes through
    // the loop.)
    asio::awaitable<bool> write_bytes(std::string bytes) {
        bool ok = true;
        const std::size_t done = write_now(bytes, ok);
        if (!ok) {
            co_return false;
        }
        if (done == bytes.size()) {
            co_return true;
        }
        stream_.expires_after(shared_.limits.body_timeout);
        auto [ec, n] = co_await asio::async_write(
            stream_, asio::buffer(bytes.data() + done, bytes.size() - done), kTuple
        );
        stream_.expires_never();
        co_return !ec;
    }

    // Writes what the socket takes of `bytes` at once, without waiting, and returns how much
    // that was; `ok` turns false when the connection broke. Nothing on a transport without
    // non-blocking writes. write_buffers_now takes a buffer sequence (one gathered write).
    std::size_t write_now(std::string_view bytes, bool& ok) {
        return write_buffers_now(std::array{asio::buffer(bytes)}, ok);
    }

    template <class ConstBuffers>
    std::size_t write_buffers_now(const ConstBuffers& bytes, bool& ok) {
        if constexpr (requires(Stream & s, boost::system::error_code & e) {
                          s.socket().non_blocking(true, e);
                      }) {
            auto& socket = stream_.socket();
            boost::system::error_code ec;
            if (!socket.non_blocking()) {
                socket.non_blocking(true, ec);  // asynchronous operations are unaffected
            }
            const std::size_t done = ec ? 0 : socket.write_some(bytes, ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) {
                return done;
            }
            ok = !ec;
            return done;
        } else {
            return 0;
        }
    }

    // What the parser accepts but Parley does not, once the headers are read: more header
    // fields than the limit (431; the byte limit alone lets ~4,000 tiny ones through), and a
    // Transfer-Encoding whose final coding is not chunked (`gzip`, `xchunked`, `chunked, gzip`):
    // the body's length cannot be known, so RFC 9112 §6.3 requires a 400 and closing the
    // connection, as a proxy in front may have framed the body differently (request smuggling).
    // (A pointer, null when the head is fine: one slot of run()'s frame, not an Error's.)
    std::unique_ptr<Error> check_head(const bhttp::request_header<>& head, bool chunked) const {
        const auto fields = static_cast<std::size_t>(std::distance(head.begin(), head.end()));
        if (fields > shared_.limits.max_header_fields) {
            return std::make_unique<Error>(make_error(
                ErrorType::headers_too_large,
                "request has more than " + std::to_string(shared_.limits.max_header_fields) +
                    " header fields"
            ));
        }
        if (head.count(bhttp::field::transfer_encoding) > 0 && !chunked) {
            return std::make_unique<Error>(make_error(
                ErrorType::invalid_request,
                "Transfer-Encoding must end with chunked; no other transfer coding is accepted"
            ));
        }
        return nullptr;
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
        co_await reject(error, partial);
    }

    // Answers `error` to a request that will not be read further, then closes (after draining).
    asio::awaitable<void> reject(const Error& error, const bhttp::request_header<>& partial) {
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

    Stream stream_;
    beast::flat_buffer buffer_;
    SessionShared& shared_;
    ConnectionHub& hub_;
    std::string client_ip_;
    bool idle_ = false;
    bool flooded_ = false;
    // EOF (or a reset) seen by the disconnect watch: the client will send nothing more.
    bool peer_closed_ = false;
    async::Event shutdown_;  // set when the server drains while this connection is busy
    std::function<void(CloseReason)> close_sink_;  // told by the watch (see watch())
    bool watch_reading_ = false;                   // the watch's read is pending
    // What a watch read's handler reaches the session through: nulled when the session goes.
    std::shared_ptr<Session*> self_ = std::make_shared<Session*>(this);
};

// Serves one connection over `stream` until it closes. Never throws.
template <class Stream>
asio::awaitable<void> serve_connection(Stream stream, SessionShared& shared, ConnectionHub& hub) {
    try {
        Session<Stream> session(std::move(stream), shared, hub);
        co_await session.run();
    } catch (const std::exception& e) {
        log::error("session failed", {{"what", e.what()}});
    }
}

}  // namespace parley::http
