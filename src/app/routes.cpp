#include "app/routes.hpp"

#include "auth/routes.hpp"
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

        {Method::post,    "/api/v1/auth/register",   Access::credential, [&s](Request& r) { return auth::register_user(r, *s.auth); }},
        {Method::post,    "/api/v1/auth/login",      Access::credential, [&s](Request& r) { return auth::login(r, *s.auth); }},
        {Method::post,    "/api/v1/auth/refresh",    Access::credential, [&s](Request& r) { return auth::refresh(r, *s.auth); }},
        {Method::post,    "/api/v1/auth/logout",     Access::read,       [&s](Request& r) { return auth::logout(r, *s.auth); }},
        {Method::get,     "/api/v1/auth/me",         Access::read,       [&s](Request& r) { return auth::me(r, *s.auth); }},
        {Method::post,    "/api/v1/api-keys",        Access::admin,      [&s](Request& r) { return auth::create_api_key(r, *s.auth); }},
        {Method::get,     "/api/v1/api-keys",        Access::read,       [&s](Request& r) { return auth::list_api_keys(r, *s.auth); }},
        {Method::delete_, "/api/v1/api-keys/{id}",   Access::admin,      [&s](Request& r) { return auth::delete_api_key(r, *s.auth); }},
    };
    // clang-format on
}

}  // namespace parley::app
