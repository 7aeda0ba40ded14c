// Runs an accepted WebSocket upgrade over a connection the HTTP session hands over. Internal to
// http/ (session.cpp); Beast is in this header.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "async/event.hpp"
#include "http/response.hpp"
#include "http/server.hpp"

namespace parley::http {

// Completes the handshake for `upgrade` (with `res`'s headers on the 101), then runs
// `res.websocket` until it returns, and closes (going-away when `shutdown` was set). Never throws.
boost::asio::awaitable<void> run_websocket(
    boost::beast::tcp_stream stream,
    boost::beast::http::request<boost::beast::http::string_body> upgrade,
    const Response& res,
    const Limits& limits,
    async::Event& shutdown
);

}  // namespace parley::http
