#include "app/routes.hpp"

#include "system/routes.hpp"

namespace parley::app {

using http::Access;
using http::Method;
using http::Request;

std::vector<http::Route> make_routes(Services& s) {
    // clang-format off
    return {
        {Method::get, "/",                    Access::open, [](Request& r) { return system::api_info(r); }},
        {Method::get, "/health",              Access::open, [&s](Request& r) { return system::health(r, *s.health); }},
        {Method::get, "/api/health",          Access::open, [&s](Request& r) { return system::health(r, *s.health); }},
        {Method::get, "/metrics",             Access::open, [&s](Request& r) { return system::metrics(r, *s.metrics); }},
        {Method::get, "/openapi.json",        Access::open, [](Request& r) { return system::embedded_asset(r); }},
        {Method::get, "/docs",                Access::open, [](Request& r) { return system::embedded_asset(r); }},
        {Method::get, "/redoc",               Access::open, [](Request& r) { return system::embedded_asset(r); }},
        {Method::get, "/docs/assets/{file}",  Access::open, [](Request& r) { return system::embedded_asset(r); }},
    };
    // clang-format on
}

}  // namespace parley::app
