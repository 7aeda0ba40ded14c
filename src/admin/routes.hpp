// Handlers for /api/v1/admin/*: parse and validate the request, call the AdminService (which
// checks the caller is an administrator: 403 otherwise), shape the seed contract's response.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "admin/service.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace parley::admin {

// GET /api/v1/admin/users
boost::asio::awaitable<http::Response> list_users(http::Request& req, AdminService& admin);
// PATCH /api/v1/admin/users/{id}
boost::asio::awaitable<http::Response> update_user(http::Request& req, AdminService& admin);
// GET /api/v1/admin/usage
boost::asio::awaitable<http::Response> usage(http::Request& req, AdminService& admin);
// GET /api/v1/admin/audit
boost::asio::awaitable<http::Response> audit(http::Request& req, AdminService& admin);

}  // namespace parley::admin
