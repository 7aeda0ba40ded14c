#include "app/routes.hpp"

#include "admin/routes.hpp"
#include "auth/routes.hpp"
#include "conversations/routes.hpp"
#include "messages/routes.hpp"
#include "search/routes.hpp"
#include "system/routes.hpp"
#include "usage/routes.hpp"

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
        {Method::get, "/app",                 Access::open, [](Request& r) { return system::web_app(r); }},
        {Method::get, "/app/",                Access::open, [](Request& r) { return system::web_app(r); }},
        {Method::get, "/app/{file}",          Access::open, [](Request& r) { return system::web_app(r); }},

        // Seed 003's streaming service, at the root.
        {Method::post, "/stream",             Access::model, [&s](Request& r) { return messages::prompt_stream(r, *s.messages, *s.conversations); }},
        {Method::get,  "/history",            Access::read,  [&s](Request& r) { return search::history(r, *s.search); }},
        {Method::get,  "/history/{id}",       Access::read,  [&s](Request& r) { return search::history_item(r, *s.search); }},
        {Method::get,  "/search",             Access::read,  [&s](Request& r) { return search::search_history(r, *s.search); }},

        {Method::post,    "/api/v1/auth/register",   Access::credential, [&s](Request& r) { return auth::register_user(r, *s.auth); }},
        {Method::post,    "/api/v1/auth/login",      Access::credential, [&s](Request& r) { return auth::login(r, *s.auth); }},
        {Method::post,    "/api/v1/auth/refresh",    Access::credential, [&s](Request& r) { return auth::refresh(r, *s.auth); }},
        {Method::post,    "/api/v1/auth/logout",     Access::read,       [&s](Request& r) { return auth::logout(r, *s.auth); }},
        {Method::get,     "/api/v1/auth/me",         Access::read,       [&s](Request& r) { return auth::me(r, *s.auth); }},
        {Method::post,    "/api/v1/api-keys",        Access::admin,      [&s](Request& r) { return auth::create_api_key(r, *s.auth); }},
        {Method::get,     "/api/v1/api-keys",        Access::read,       [&s](Request& r) { return auth::list_api_keys(r, *s.auth); }},
        {Method::delete_, "/api/v1/api-keys/{id}",   Access::admin,      [&s](Request& r) { return auth::delete_api_key(r, *s.auth); }},

        {Method::post,    "/api/v1/conversations",                Access::write, [&s](Request& r) { return conversations::create(r, *s.conversations); }},
        {Method::get,     "/api/v1/conversations",                Access::read,  [&s](Request& r) { return conversations::list(r, *s.conversations); }},
        {Method::get,     "/api/v1/conversations/{id}",           Access::read,  [&s](Request& r) { return conversations::get(r, *s.conversations); }},
        {Method::patch,   "/api/v1/conversations/{id}",           Access::write, [&s](Request& r) { return conversations::update(r, *s.conversations); }},
        {Method::delete_, "/api/v1/conversations/{id}",           Access::write, [&s](Request& r) { return conversations::remove(r, *s.conversations); }},
        {Method::get,     "/api/v1/conversations/{id}/messages",  Access::read,  [&s](Request& r) { return conversations::list_messages(r, *s.conversations); }},
        {Method::post,    "/api/v1/conversations/{id}/messages",  Access::model, [&s](Request& r) { return messages::send(r, *s.messages); }},
        {Method::post,    "/api/v1/conversations/{id}/messages/stream", Access::model, [&s](Request& r) { return messages::stream(r, *s.messages); }},
        {Method::get,     "/api/v1/conversations/{id}/events",    Access::read,  [&s](Request& r) { return conversations::events(r, *s.conversations); }},
        {Method::get,     "/api/v1/conversations/{id}/ws",        Access::write, [&s](Request& r) { return messages::websocket(r, *s.messages, *s.conversations, s.gate, *s.sessions); }},
        {Method::get,     "/ws/session/{session_id}",             Access::write, [&s](Request& r) { return messages::websocket(r, *s.messages, *s.conversations, s.gate, *s.sessions); }},
        {Method::get,     "/api/v1/conversations/{id}/session-events", Access::read, [&s](Request& r) { return messages::session_events(r, *s.sessions); }},
        {Method::post,    "/api/v1/conversations/{id}/summary",   Access::model, [&s](Request& r) { return messages::summarize(r, *s.sessions); }},
        {Method::get,     "/api/sessions/{session_id}/summary",   Access::read,  [&s](Request& r) { return messages::session_summary(r, *s.sessions); }},
        {Method::get,     "/api/v1/search",                       Access::read,  [&s](Request& r) { return search::search_messages(r, *s.search); }},
        {Method::get,     "/api/v1/models",                       Access::read,  [&s](Request& r) { return usage::models(r, *s.router); }},
        {Method::get,     "/api/v1/usage/stats",                  Access::read,  [&s](Request& r) { return usage::stats(r, *s.store); }},

        // Administration (issue 16): the admin scope, and the service checks the account's role.
        {Method::get,     "/api/v1/admin/users",       Access::admin, [&s](Request& r) { return admin::list_users(r, *s.admin); }},
        {Method::patch,   "/api/v1/admin/users/{id}",  Access::admin, [&s](Request& r) { return admin::update_user(r, *s.admin); }},
        {Method::get,     "/api/v1/admin/usage",       Access::admin, [&s](Request& r) { return admin::usage(r, *s.admin); }},
        {Method::get,     "/api/v1/admin/audit",       Access::admin, [&s](Request& r) { return admin::audit(r, *s.admin); }},
    };
    // clang-format on
}

}  // namespace parley::app
