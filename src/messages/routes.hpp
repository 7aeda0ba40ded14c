// Handlers for sending messages: POST /api/v1/conversations/{id}/messages (non-streaming).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/request.hpp"
#include "http/response.hpp"
#include "messages/service.hpp"

namespace parley::messages {

// POST /api/v1/conversations/{id}/messages
boost::asio::awaitable<http::Response> send(http::Request& req, MessageService& svc);

}  // namespace parley::messages
