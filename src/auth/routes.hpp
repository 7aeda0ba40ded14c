// Handlers for /api/v1/auth/* and /api/v1/api-keys: parse and validate the request, call the
// AuthService, shape the seed contract's response.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "auth/service.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace parley::auth {

// POST /api/v1/auth/register
boost::asio::awaitable<http::Response> register_user(http::Request& req, AuthService& auth);
// POST /api/v1/auth/login
boost::asio::awaitable<http::Response> login(http::Request& req, AuthService& auth);
// POST /api/v1/auth/refresh
boost::asio::awaitable<http::Response> refresh(http::Request& req, AuthService& auth);
// POST /api/v1/auth/logout
boost::asio::awaitable<http::Response> logout(http::Request& req, AuthService& auth);
// GET /api/v1/auth/me
boost::asio::awaitable<http::Response> me(http::Request& req, AuthService& auth);
// POST /api/v1/api-keys
boost::asio::awaitable<http::Response> create_api_key(http::Request& req, AuthService& auth);
// GET /api/v1/api-keys
boost::asio::awaitable<http::Response> list_api_keys(http::Request& req, AuthService& auth);
// PATCH /api/v1/api-keys/{id}/budget (the key's owner, or an admin)
boost::asio::awaitable<http::Response> update_api_key_budget(http::Request& req, AuthService& auth);
// DELETE /api/v1/api-keys/{id}
boost::asio::awaitable<http::Response> delete_api_key(http::Request& req, AuthService& auth);

}  // namespace parley::auth
