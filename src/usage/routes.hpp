// GET /api/v1/models (the catalog with availability), GET /api/v1/usage/stats (the caller's
// totals, by model and by day) and GET /api/v1/usage/budget (the caller's budgets).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/request.hpp"
#include "http/response.hpp"
#include "llm/router.hpp"
#include "store/store.hpp"
#include "usage/budget.hpp"

namespace parley::usage {

// GET /api/v1/models
boost::asio::awaitable<http::Response> models(http::Request& req, const llm::ModelRouter& router);

// GET /api/v1/usage/stats?from&to: messages and the calls that store none (usage_records), by
// model, by day and by API key.
boost::asio::awaitable<http::Response> stats(http::Request& req, store::Store& store);

// GET /api/v1/usage/budget: the account's budget and, with an API key, the key's: limit, soft
// limit, spent, reserved, remaining, period, its start and reset (a null limit: none).
boost::asio::awaitable<http::Response> budget(http::Request& req, Budgets& budgets);

}  // namespace parley::usage
