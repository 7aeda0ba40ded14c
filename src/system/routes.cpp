#include "system/routes.hpp"

#include <boost/json/object.hpp>

#include "system/assets.hpp"

namespace parley::system {

namespace bj = boost::json;

namespace {

constexpr std::string_view kHtmlPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
    "data:; "
    "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'";

// The web client's policy is stricter than the docs pages': no inline script or style, no eval,
// nothing from another origin (it runs offline), no images but its own (a model's markdown cannot
// make the browser fetch a tracking pixel), no plugins, no forms posting elsewhere, no framing.
constexpr std::string_view kAppPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

}  // namespace

boost::asio::awaitable<http::Response> api_info(http::Request& /*req*/) {
    const bj::object endpoints{
        {"websocket", "/ws/session/{session_id}"},
        {"health", "/api/health"},
    };
    co_return http::json_response(
        200,
        bj::object{
            {"status", "success"},
            {"data",
             bj::object{
                 {"name", "Parley"},
                 {"description", "Conversation API server"},
                 {"version", PARLEY_VERSION},
                 {"endpoints", endpoints},
                 {"links",
                  bj::object{
                      {"health", "/health"},
                      {"openapi", "/openapi.json"},
                      {"docs", "/docs"},
                      {"redoc", "/redoc"},
                      {"app", "/app/"},
                      {"metrics", "/metrics"},
                      {"api", "/api/v1"},
                  }},
             }},
            // Seed 004's field, at the top level where its clients read it.
            {"endpoints", endpoints},
        }
    );
}

boost::asio::awaitable<http::Response> health(http::Request& req, HealthMonitor& monitor) {
    const bool db_ok = co_await monitor.database_ok();
    bj::object checks{{"database", db_ok ? "ok" : "error"}};
    if (db_ok) {
        co_return http::json_response(
            200,
            bj::object{
                {"status", "ok"},
                {"version", PARLEY_VERSION},
                {"uptime_s", static_cast<std::int64_t>(monitor.uptime_s())},
                {"database", "connected"},  // seed 003's field, beside checks
                {"checks", std::move(checks)},
            }
        );
    }
    co_return http::json_response(
        503,
        bj::object{
            {"status", "error"},
            {"error",
             bj::object{
                 {"type", error_type_name(ErrorType::overloaded)},
                 {"message", "database check failed"},
                 {"request_id", req.request_id()},
             }},
            {"version", PARLEY_VERSION},
            {"uptime_s", static_cast<std::int64_t>(monitor.uptime_s())},
            {"database", "disconnected"},
            {"checks", std::move(checks)},
        }
    );
}

boost::asio::awaitable<http::Response> metrics(http::Request& /*req*/, http::Metrics& metrics) {
    http::Response res;
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    res.body = metrics.render();
    co_return res;
}

boost::asio::awaitable<http::Response> embedded_asset(http::Request& req) {
    const auto asset = assets::find_asset(req.path());
    if (!asset) {
        throw ErrorException(
            make_error(ErrorType::not_found, "no such file: " + std::string(req.path()))
        );
    }
    http::Response res;
    res.content_type = std::string(asset->content_type);
    res.body = std::string(asset->data);
    if (res.content_type.starts_with("text/html")) {
        res.set_header("Content-Security-Policy", std::string(kHtmlPolicy));
    } else {
        res.cacheable = true;
        res.set_header("Cache-Control", "public, max-age=3600");
    }
    co_return res;
}

boost::asio::awaitable<http::Response> web_app(http::Request& req) {
    if (req.path() == "/app") {
        http::Response res;
        res.status = 308;
        res.set_header("Location", "/app/");
        co_return res;
    }
    const auto asset = assets::find_asset(req.path());
    if (!asset) {
        throw ErrorException(
            make_error(ErrorType::not_found, "no such file: " + std::string(req.path()))
        );
    }
    http::Response res;
    res.content_type = std::string(asset->content_type);
    res.body = std::string(asset->data);
    res.set_header("Content-Security-Policy", std::string(kAppPolicy));
    // The client's modules import each other by plain names, so a new binary's files must not
    // meet an old one's from the cache: revalidate every time (they are small and local).
    res.cacheable = true;
    res.set_header("Cache-Control", "no-cache");
    co_return res;
}

}  // namespace parley::system
