// The search routes: GET /api/v1/search (the caller's messages, full-text), and seed 003's
// /history, /history/{id} and /search at the root, field for field.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/request.hpp"
#include "http/response.hpp"
#include "search/service.hpp"

namespace parley::search {

// GET /api/v1/search?q=&limit=&cursor=&conversation_id=&role=&from=&to=&include_archived=
boost::asio::awaitable<http::Response> search_messages(http::Request& req, SearchService& svc);

// GET /history?limit=10&offset=0
boost::asio::awaitable<http::Response> history(http::Request& req, SearchService& svc);

// GET /history/{id}
boost::asio::awaitable<http::Response> history_item(http::Request& req, SearchService& svc);

// GET /search?query=&limit=10&offset=0
boost::asio::awaitable<http::Response> search_history(http::Request& req, SearchService& svc);

}  // namespace parley::search
