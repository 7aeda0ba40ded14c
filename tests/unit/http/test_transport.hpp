// An in-memory connection for driving http::Session without sockets. The client holds a
// boost::beast::test::stream; the session gets a TestTransport over the peer test::stream, which
// adds what beast::tcp_stream has and test::stream lacks:
//   - per-operation cancellation of reads (test::stream's pending read ignores cancellation, and
//   the
//     session races its disconnect watch against the body writer with `||`);
//   - expiry: expires_after() closes the connection when it passes, as tcp_stream does, so header,
//     body and idle timeouts run for real (with short durations);
//   - back-pressure: a write waits while the client holds `window` unread bytes, as a socket's
//     buffers fill when the peer stops reading;
//   - a read size: each read returns at most read_size bytes (1: byte at a time);
//   - optionally, non-blocking writes that take what the window has room for.
// socket() returns the transport itself, with the few socket calls the session makes.
// test::stream's fail_count (given to the server end) still injects a failure at step N.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/core/error.hpp>

namespace parley::http::testing {

class TestTransport {
public:
    using executor_type = boost::asio::any_io_executor;

    // `server_end` is connected to `client`; `client` must outlive the transport.
    TestTransport(
        boost::beast::test::stream server_end,
        boost::beast::test::stream& client,
        std::size_t window = std::numeric_limits<std::size_t>::max()
    )
        : s_(std::make_shared<State>(std::move(server_end), client, window)) {
        pump(s_);
    }

    executor_type get_executor() const { return s_->exec; }

    // Each read returns at most `n` bytes.
    void read_size(std::size_t n) { s_->read_size = n; }

    // What the session calls on tcp_stream.
    void expires_after(std::chrono::steady_clock::duration d) {
        s_->deadline.expires_after(d);
        s_->deadline.async_wait([s = s_](boost::system::error_code ec) {
            if (!ec) {
                s->timed_out = true;
                close(*s);
            }
        });
    }

    void expires_never() { s_->deadline.cancel(); }

    // Cancels every pending read and write (tcp_stream::cancel).
    void cancel() {
        ++s_->generation;
        s_->readable.cancel();
    }

    TestTransport& socket() { return *this; }

    // What the session calls on tcp::socket.
    void shutdown(boost::asio::socket_base::shutdown_type how, boost::system::error_code& ec) {
        ec = {};
        if (how != boost::asio::socket_base::shutdown_receive) {
            s_->client.close_remote();  // the client reads EOF after what it has not read yet
        }
    }

    void close(boost::system::error_code& ec) {
        ec = {};
        close(*s_);
    }

    boost::asio::ip::tcp::endpoint remote_endpoint(boost::system::error_code& ec) const {
        ec = {};
        return {boost::asio::ip::address_v4::loopback(), 40'000};
    }

    bool timed_out() const noexcept { return s_->timed_out; }

    // The socket's non-blocking writes, which the session tries before an asynchronous one. Off
    // by default: every such write then finds the socket full (would_block). On, a write takes
    // what the window has room for, as a socket with that much buffer space free would.
    void immediate_writes(bool on) { s_->immediate_writes = on; }

    bool non_blocking() const noexcept { return true; }

    void non_blocking(bool /*mode*/, boost::system::error_code& ec) { ec = {}; }

    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& buffers, boost::system::error_code& ec) {
        if (!s_->immediate_writes) {
            ec = boost::asio::error::would_block;
            return 0;
        }
        if (s_->closed) {
            ec = write_error(*s_);
            return 0;
        }
        const auto backlog = s_->client.buffer().size();
        if (backlog >= s_->window) {
            ec = boost::asio::error::would_block;
            return 0;
        }
        return s_->inner.write_some(
            boost::beast::buffers_prefix(s_->window - backlog, buffers), ec
        );
    }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            ReadOp<MutableBuffers>{s_, buffers, s_->generation}, token, s_->exec
        );
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            WriteOp<ConstBuffers>{s_, buffers, s_->generation}, token, s_->exec
        );
    }

private:
    struct State {
        State(boost::beast::test::stream server_end, boost::beast::test::stream& c, std::size_t w)
            : inner(std::move(server_end)),
              client(c),
              exec(inner.get_executor()),
              readable(exec, boost::asio::steady_timer::time_point::max()),
              deadline(exec),
              window(w) {}

        boost::beast::test::stream inner;
        boost::beast::test::stream& client;
        executor_type exec;
        boost::asio::steady_timer readable;  // never expires; cancel() wakes the readers
        boost::asio::steady_timer deadline;
        std::size_t window;
        std::size_t read_size = std::numeric_limits<std::size_t>::max();
        std::string inbox;  // bytes the client sent that no read has taken yet
        bool eof = false;
        bool closed = false;
        bool timed_out = false;
        bool immediate_writes = false;
        unsigned generation = 0;
        std::array<char, 4096> chunk{};
    };

    static void close(State& s) {
        if (!s.closed) {
            s.closed = true;
            s.inner.close();
            s.readable.cancel();
        }
    }

    // Moves what the client writes into the inbox, so that reads can wait on a cancellable timer.
    // Holds the state weakly: the pending read must not keep the connection alive.
    static void pump(const std::shared_ptr<State>& s) {
        s->inner.async_read_some(
            boost::asio::buffer(s->chunk),
            [w = std::weak_ptr<State>(s)](boost::system::error_code ec, std::size_t n) {
                const auto state = w.lock();
                if (!state) {
                    return;
                }
                state->inbox.append(state->chunk.data(), n);
                if (ec) {
                    state->eof = true;
                }
                state->readable.cancel();
                if (!ec) {
                    pump(state);
                }
            }
        );
    }

    // As over TCP: a write on a connection that expired fails with timeout; a read pending when
    // the connection closed (the disconnect watch reads the socket itself) with operation_aborted.
    static boost::system::error_code write_error(const State& s) {
        if (s.timed_out) {
            return boost::beast::error::timeout;
        }
        return boost::asio::error::operation_aborted;
    }

    template <class Self>
    static bool cancelled(Self& self, const State& s, unsigned generation) {
        return self.get_cancellation_state().cancelled() != boost::asio::cancellation_type::none ||
               s.generation != generation;
    }

    template <class Buffers>
    struct ReadOp {
        std::shared_ptr<State> s;
        Buffers buffers;
        unsigned generation;
        bool started = false;

        template <class Self>
        void operator()(Self& self, boost::system::error_code = {}) {
            if (!started) {
                // Never complete inside the initiating call.
                started = true;
                boost::asio::post(s->exec, std::move(self));
                return;
            }
            if (s->closed || cancelled(self, *s, generation)) {
                self.complete(boost::asio::error::operation_aborted, 0);
                return;
            }
            if (!s->inbox.empty()) {
                const auto n = boost::asio::buffer_copy(
                    buffers, boost::asio::buffer(s->inbox), std::max<std::size_t>(1, s->read_size)
                );
                s->inbox.erase(0, n);
                self.complete({}, n);
                return;
            }
            if (s->eof) {
                self.complete(boost::asio::error::eof, 0);
                return;
            }
            s->readable.async_wait(std::move(self));
        }
    };

    template <class Buffers>
    struct WriteOp {
        std::shared_ptr<State> s;
        Buffers buffers;
        unsigned generation;
        std::unique_ptr<boost::asio::steady_timer> poll{};

        template <class Self>
        void operator()(Self& self, boost::system::error_code = {}) {
            if (!poll) {
                poll = std::make_unique<boost::asio::steady_timer>(s->exec);
                boost::asio::post(s->exec, std::move(self));
                return;
            }
            if (s->closed) {
                self.complete(write_error(*s), 0);
                return;
            }
            if (cancelled(self, *s, generation)) {
                self.complete(boost::asio::error::operation_aborted, 0);
                return;
            }
            const auto backlog = s->client.buffer().size();
            if (backlog >= s->window) {
                // The client is not reading: wait, as a write to a full socket does.
                poll->expires_after(std::chrono::milliseconds(1));
                auto& timer = *poll;
                timer.async_wait(std::move(self));
                return;
            }
            const auto room = s->window - backlog;
            boost::system::error_code ec;
            std::size_t n = 0;
            if (boost::asio::buffer_size(buffers) <= room) {
                n = s->inner.write_some(buffers, ec);
            } else {
                // Part of it, as a socket with `room` bytes free would take.
                n = s->inner.write_some(boost::beast::buffers_prefix(room, buffers), ec);
            }
            self.complete(ec, n);
        }
    };

    std::shared_ptr<State> s_;
};

}  // namespace parley::http::testing
