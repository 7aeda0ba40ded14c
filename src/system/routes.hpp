// Handlers for the operational routes: API info, health, metrics, the OpenAPI document, the
// documentation UIs (Swagger UI at /docs, ReDoc at /redoc) and the browser client (/app/), served
// from embedded assets.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/metrics.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "system/health.hpp"

namespace parley::system {

// GET /
boost::asio::awaitable<http::Response> api_info(http::Request& req);

// GET /health, GET /api/health — 200 when the database answers, else 503 (structured error plus
// the checks).
boost::asio::awaitable<http::Response> health(http::Request& req, HealthMonitor& monitor);

// GET /metrics — Prometheus text format.
boost::asio::awaitable<http::Response> metrics(http::Request& req, http::Metrics& metrics);

// GET /openapi.json, /docs, /redoc, /docs/assets/{file} — the embedded file at the request path;
// HTML pages carry a Content-Security-Policy that allows only the server's own assets.
boost::asio::awaitable<http::Response> embedded_asset(http::Request& req);

// GET /app, /app/, /app/{file} — the browser client (web/app/ and its two npm libraries, embedded
// at build time). Every response carries the client's strict Content-Security-Policy (no inline
// script, no eval, same origin only, no framing); /app redirects (308) to /app/.
boost::asio::awaitable<http::Response> web_app(http::Request& req);

}  // namespace parley::system
