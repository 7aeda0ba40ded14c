// Handlers of the OpenAI- and Anthropic-compatible endpoints: stateless calls through Parley's
// router with each API's request and response shapes, streamed with the conversation routes'
// encoders. Errors take each API's own shape (compat/errors.hpp, named in the route table).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "compat/service.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace parley::compat {

// POST /v1/chat/completions
boost::asio::awaitable<http::Response> chat_completions(http::Request& req, CompatService& svc);

// POST /v1/messages
boost::asio::awaitable<http::Response> create_message(http::Request& req, CompatService& svc);

// POST /v1/messages/count_tokens: the prompt's size as Parley estimates it (no model call).
boost::asio::awaitable<http::Response> count_tokens(http::Request& req, CompatService& svc);

// GET /v1/models
boost::asio::awaitable<http::Response> list_models(http::Request& req, CompatService& svc);

}  // namespace parley::compat
