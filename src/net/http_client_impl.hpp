// The HTTP client's connections and its body reader, internal to net/: included by
// http_client.cpp only. Beast and Asio are in this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/system/system_error.hpp>

#include "async/deadline.hpp"
#include "net/http_client.hpp"

namespace parley::net::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

// How long a finished stream's remaining bytes may take before its connection is dropped.
constexpr std::chrono::milliseconds kDrainTimeout{50};

// The body is read in pieces of kFirstRead bytes, doubled up to kLargestRead while reads fill them.
constexpr std::size_t kFirstRead = 1024;
constexpr std::size_t kLargestRead = 16 * 1024;

// The most one socket read asks for (what http::async_read_some asks for).
constexpr std::size_t kReadLimit = 64 * 1024;

// The body reads' timeout. tcp_stream's own timeout is re-armed before every read (a timer
// scheduled and cancelled, a handler run, per streamed delta); this one is an async::Deadline,
// whose single timer is only re-armed when the deadline moves earlier. As with tcp_stream, only
// the time a read is pending counts (not the caller's time between reads), and when the
// deadline passes the socket is closed, so the pending read fails at once.
class ReadDeadline {
public:
    ReadDeadline(const asio::any_io_executor& ex, tcp::socket& socket)
        : deadline_(ex, [&socket] {
              boost::system::error_code ignored;
              socket.close(ignored);  // the socket outlives the deadline (declared after it)
          }) {}

    // A read starts: the socket is closed if it is still pending `d` from now.
    void start(std::chrono::steady_clock::duration d) {
        deadline_.expires_at(std::chrono::steady_clock::now() + d);
    }

    // The read completed: the time until the next start() does not count.
    void pause() noexcept { deadline_.suspend(); }

    // No deadline any more (the exchange is over); the connection may be pooled.
    void stop() { deadline_.stop(); }

    // Whether the deadline passed and closed the socket.
    bool expired() const noexcept { return deadline_.expired(); }

private:
    async::Deadline deadline_;
};

struct Connection {
    std::string key;
    asio::any_io_executor executor;
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
    std::unique_ptr<ReadDeadline> deadline;  // the body reads' timeout (declared after the socket)
    beast::flat_buffer buffer;

    beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

// A response's body, read (issue 14): what one socket read brings is parsed whole (rather than
// by http::async_read_some, which returns once per chunk header and once per chunk body, two
// reads, one of them posted, per streamed event, and re-arms tcp_stream's timer each time), its
// body goes to on_body in one piece, and the next read starts, all in plain calls from the read's
// completion (BodyReadOp): the coroutine awaiting the body resumes once, when the body ends, not
// once per streamed event.
template <class Stream>
class BodyReader {
public:
    BodyReader(
        Stream& stream,
        Connection& c,
        bhttp::response_parser<bhttp::buffer_body>& parser,
        const BodyHandler& on_body,
        const ClientResponse& head,
        bool keep_alive,
        std::chrono::milliseconds read_timeout,
        asio::cancellation_state cancellation,
        bool throw_if_cancelled
    )
        : stream_(stream),
          c_(c),
          parser_(parser),
          on_body_(on_body),
          head_(head),
          keep_alive_(keep_alive),
          read_timeout_(read_timeout),
          cancellation_(std::move(cancellation)),
          throw_if_cancelled_(throw_if_cancelled),
          chunk_(kFirstRead) {}

    // Parses what the connection's buffer holds and hands the body over. True when the body needs
    // more bytes (start_read next); false when it has ended: error() says how.
    bool advance() {
        while (!parser_.is_done()) {
            std::size_t got = 0;
            std::size_t used = 0;
            boost::system::error_code pec;
            while (c_.buffer.size() > 0 && !parser_.is_done() && got < chunk_.size()) {
                parser_.get().body().data = chunk_.data() + got;
                parser_.get().body().size = chunk_.size() - got;
                const std::size_t n = parser_.put(c_.buffer.data(), pec);
                c_.buffer.consume(n);
                used += n;
                got = chunk_.size() - parser_.get().body().size;
                if (pec || n == 0) {
                    break;
                }
            }
            // need_more: the buffer ends inside a chunk header (or holds nothing); need_buffer:
            // `chunk_` is full and is handed over before parsing goes on.
            const bool need_more = pec && pec == bhttp::error::need_more;
            const bool starved = need_more || c_.buffer.size() == 0 || (used == 0 && got == 0);
            if (need_more || (pec && pec == bhttp::error::need_buffer)) {
                pec = {};
            }
            if (pec) {
                end(pec);
                return false;
            }
            if (!draining_ && got > 0 && !on_body_(head_, std::string_view(chunk_.data(), got))) {
                // The caller stopped reading (a stream's last event). A well-behaved server ends
                // the body right after it ([DONE], the last chunk): read that much, briefly, so
                // the connection can serve the next request instead of a new connect.
                if (!keep_alive_) {
                    return false;  // not reused
                }
                draining_ = true;
            }
            if (got == chunk_.size() && chunk_.size() < kLargestRead) {
                chunk_.resize(chunk_.size() * 2);
            }
            if (!parser_.is_done() && starved) {
                return true;
            }
        }
        reusable_ = keep_alive_;
        return false;
    }

    // Starts the next socket read; `op` is called with its outcome.
    template <class Op>
    void start_read(Op&& op) {
        c_.deadline->start(draining_ ? kDrainTimeout : read_timeout_);
        const auto space = c_.buffer.prepare(beast::read_size(c_.buffer, kReadLimit));
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            c_.lowest().socket().async_read_some(space, std::forward<Op>(op));
        } else {
            stream_.async_read_some(space, std::forward<Op>(op));
        }
    }

    // A read completed: false when it ended the body (a failure, a timeout).
    bool finish_read(boost::system::error_code ec, std::size_t n) {
        c_.deadline->pause();
        c_.buffer.commit(n);
        if (ec == asio::error::eof) {
            ec = {};
            parser_.put_eof(ec);  // ends a close-delimited body; else a partial message
        } else if (ec && c_.deadline->expired()) {
            ec = beast::error::timeout;
        }
        if (ec) {
            end(ec);
            return false;
        }
        return true;
    }

    // Between two reads no operation is pending, so a cancellation of the awaiting coroutine
    // (the client left, the router's watchdog) reaches none: it is only recorded in the
    // coroutine's state. Before the next read, the body ends as that read's co_await would
    // have ended it: by throwing operation_aborted (failing with it, if the coroutine does not
    // throw on cancellation). True when it ended.
    bool stop_if_cancelled() {
        if (cancellation_.cancelled() == asio::cancellation_type::none) {
            return false;
        }
        if (throw_if_cancelled_) {
            thrown_ = std::make_exception_ptr(
                boost::system::system_error(asio::error::operation_aborted, "co_await")
            );
        } else {
            end(asio::error::operation_aborted);
        }
        return true;
    }

    // An exception on_body threw from a read's completion, for the awaiting coroutine.
    void keep_thrown(std::exception_ptr e) noexcept { thrown_ = std::move(e); }

    const std::exception_ptr& thrown() const noexcept { return thrown_; }

    // How the body ended: an error, or whether the connection may serve another request.
    const boost::system::error_code& error() const noexcept { return error_; }

    bool reusable() const noexcept { return reusable_; }

private:
    // A failure ends the body; once the caller has what it wanted (draining), it only keeps the
    // connection from being reused.
    void end(const boost::system::error_code& ec) {
        if (!draining_) {
            error_ = ec;
        }
    }

    Stream& stream_;
    Connection& c_;
    bhttp::response_parser<bhttp::buffer_body>& parser_;
    const BodyHandler& on_body_;
    const ClientResponse& head_;
    bool keep_alive_;
    std::chrono::milliseconds read_timeout_;
    asio::cancellation_state cancellation_;  // the awaiting coroutine's
    bool throw_if_cancelled_;
    // Body bytes land here. A stream's events are small, and the buffer lives as long as the
    // stream: it starts small and grows only when reads fill it (a large non-streaming body).
    std::vector<char> chunk_;
    bool draining_ = false;  // the caller has what it wanted; finish the body for reuse
    bool reusable_ = false;
    boost::system::error_code error_;
    std::exception_ptr thrown_;
};

// The completion handler of each of a body's socket reads: it goes on with the body and starts
// the next read, or completes `handler` (the awaiting coroutine's) when the body has ended. It
// carries `handler`'s executor and cancellation slot, so cancelling the coroutine cancels the
// pending read.
template <class Stream, class Handler>
struct BodyReadOp {
    BodyReader<Stream>* body;
    Handler handler;

    using executor_type = asio::associated_executor_t<Handler>;

    executor_type get_executor() const noexcept { return asio::get_associated_executor(handler); }

    using cancellation_slot_type = asio::associated_cancellation_slot_t<Handler>;

    cancellation_slot_type get_cancellation_slot() const noexcept {
        return asio::get_associated_cancellation_slot(handler);
    }

    void operator()(boost::system::error_code ec, std::size_t n) {
        bool more = false;
        try {
            more = body->finish_read(ec, n) && body->advance() && !body->stop_if_cancelled();
        } catch (...) {
            body->keep_thrown(std::current_exception());
        }
        if (more) {
            body->start_read(std::move(*this));
            return;
        }
        std::move(handler)();
    }
};

// async_initiate's initiation for a body that needs a read (BodyReader::advance said so).
template <class Stream>
struct ReadBody {
    BodyReader<Stream>* body;

    template <class Handler>
    void operator()(Handler&& handler) const {
        body->start_read(BodyReadOp<Stream, std::decay_t<Handler>>{
            body, std::forward<Handler>(handler)});
    }
};

}  // namespace parley::net::client
