// Responses that outlive their handler: a Server-Sent Events body written as it is produced, and
// a WebSocket session. Feature code sees these interfaces only; the session implements them over
// Beast (http/session.cpp, http/websocket.cpp).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

namespace parley::http {

// Why a stream must end early.
enum class CloseReason {
    none,
    client_left,  // the peer closed or reset the connection
    shutdown,     // the server is draining: say goodbye (an error event) and finish
};

// The body of a streaming response. The session has written the status line and headers (200,
// the Response's headers) by the time the body writer runs; each send() goes out at once.
class StreamWriter {
public:
    // Writes `bytes` now; false when the client is gone (later sends are no-ops).
    virtual boost::asio::awaitable<bool> send(std::string bytes) = 0;
    // send() as a plain call, for a stream's deltas (issue 14: no coroutine per write): writes
    // `bytes` when the connection takes them at once and returns true. False when part of them
    // had to wait: they are kept, in order before any later bytes, and flush() writes them. True,
    // a no-op, once the client is gone (close_reason() says so).
    virtual bool try_send(std::string_view bytes) = 0;
    // Writes what try_send() kept; false when the client is gone.
    virtual boost::asio::awaitable<bool> flush() = 0;

    // Completes when the client left or the server began to drain; at once if that happened.
    virtual boost::asio::awaitable<CloseReason> closed() = 0;

    virtual CloseReason close_reason() const noexcept = 0;

    // Calls `sink` with close_reason() when it leaves none (as closed() completes), from wherever
    // that is seen: a socket's handler, a drain, a failed write (even inside try_send()). So
    // `sink` only schedules work (a relay posts its handling: issue 14, no coroutine beside a
    // stream to watch for it), as Request::watch_close()'s sink does. Not called for a close that
    // happened before. An empty function stops the calls; unset it before what it refers to goes.
    virtual void on_close(std::function<void(CloseReason)> sink) = 0;

    // Completes when the server begins to drain, even after the client left (closed() reports
    // only the first of the two): for a body writer that goes on without its client. At once
    // when the server drains already; returns early, without an exception, when cancelled.
    virtual boost::asio::awaitable<void> draining() = 0;

protected:
    ~StreamWriter() = default;
};

using BodyWriter = std::function<boost::asio::awaitable<void>(StreamWriter&)>;

// An accepted WebSocket connection. Text messages only; the session answers pings and sends its
// own keep-alive pings.
class WebSocket {
public:
    // The next text message from the client; nullopt once the connection closed (or the server
    // is draining: then close_reason() says shutdown). Only one receive() at a time.
    virtual boost::asio::awaitable<std::optional<std::string>> receive() = 0;

    // Sends one text message; false when the connection is gone.
    virtual boost::asio::awaitable<bool> send(std::string text) = 0;

    // Completes when the connection closed or the server began to drain.
    virtual boost::asio::awaitable<CloseReason> closed() = 0;

    virtual CloseReason close_reason() const noexcept = 0;

    // As StreamWriter::on_close().
    virtual void on_close(std::function<void(CloseReason)> sink) = 0;

protected:
    ~WebSocket() = default;
};

using WebSocketHandler = std::function<boost::asio::awaitable<void>(WebSocket&)>;

}  // namespace parley::http
