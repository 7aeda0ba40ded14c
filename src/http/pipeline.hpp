// The middleware chain every request goes through, independent of sockets: request id, CORS
// (preflight answered here), routing (404, 405 with Allow), the one catch that turns errors into
// structured responses, security headers, metrics and the access-log line.
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "http/cors.hpp"
#include "http/gate.hpp"
#include "http/metrics.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "http/router.hpp"

namespace parley::http {

struct PipelineOptions {
    std::vector<std::string> allowed_origins;
    int hsts_max_age_s = 0;  // 0: no Strict-Transport-Security (not behind TLS)
    bool access_log = true;
};

class Pipeline {
public:
    // `gate` admits requests to routes that are not Access::open; without one, such routes answer
    // 500 (a wiring mistake, caught by the tests).
    Pipeline(const Router& router, Metrics& metrics, PipelineOptions options, Gate* gate = nullptr);

    // Handles one request end to end and returns the response to write. Never throws; runs on the
    // connection's I/O thread; handlers may co_await anything.
    boost::asio::awaitable<Response> handle(Request& req);

    // The response for a request the session rejected before it could be parsed or routed (431,
    // 413, 400): decorated, counted and logged like any other.
    Response reject(Request& req, const Error& error);

    const Router& router() const noexcept { return router_; }

private:
    Response dispatch_error(Request& req, const Error& error, ErrorShaper shaper = nullptr);
    void finish(Request& req, Response& res, std::chrono::steady_clock::time_point start);

    const Router& router_;
    Metrics& metrics_;
    Gate* gate_;
    CorsPolicy cors_;
    PipelineOptions options_;
    std::string hsts_value_;
};

}  // namespace parley::http
