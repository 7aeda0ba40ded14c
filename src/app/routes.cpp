#include "app/routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "admin/routes.hpp"
#include "auth/routes.hpp"
#include "compat/errors.hpp"
#include "compat/routes.hpp"
#include "conversations/routes.hpp"
#include "messages/routes.hpp"
#include "search/routes.hpp"
#include "system/routes.hpp"
#include "usage/routes.hpp"

namespace parley::app {

namespace {

std::string_view access_name(http::Access access) {
    switch (access) {
        case http::Access::open:
            return "open";
        case http::Access::credential:
            return "credential";
        case http::Access::read:
            return "read";
        case http::Access::write:
            return "write";
        case http::Access::admin:
            return "admin";
        case http::Access::model:
            return "model";
    }
    return "unknown";
}

}  // namespace

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
        {Method::patch,   "/api/v1/api-keys/{id}/budget", Access::admin, [&s](Request& r) { return auth::update_api_key_budget(r, *s.auth); }},

        {Method::post,    "/api/v1/conversations",                Access::write, [&s](Request& r) { return conversations::create(r, *s.conversations); }},
        {Method::get,     "/api/v1/conversations",                Access::read,  [&s](Request& r) { return conversations::list(r, *s.conversations); }},
        {Method::get,     "/api/v1/conversations/{id}",           Access::read,  [&s](Request& r) { return conversations::get(r, *s.conversations); }},
        {Method::patch,   "/api/v1/conversations/{id}",           Access::write, [&s](Request& r) { return conversations::update(r, *s.conversations); }},
        {Method::delete_, "/api/v1/conversations/{id}",           Access::write, [&s](Request& r) { return conversations::remove(r, *s.conversations); }},
        {Method::get,     "/api/v1/conversations/{id}/messages",  Access::read,  [&s](Request& r) { return conversations::list_messages(r, *s.conversations); }},
        {Method::post,    "/api/v1/conversations/{id}/messages",  Access::model, [&s](Request& r) { return messages::send(r, *s.messages); }},
        {Method::post,    "/api/v1/conversations/{id}/messages/stream", Access::model, [&s](Request& r) { return messages::stream(r, *s.messages, *s.streams); }},
        {Method::get,     "/api/v1/conversations/{id}/messages/{message_id}/stream", Access::read, [&s](Request& r) { return messages::resume_stream(r, *s.conversations, *s.store, *s.streams); }},
        {Method::post,    "/api/v1/conversations/{id}/messages/{message_id}/edit",              Access::model, [&s](Request& r) { return messages::edit(r, *s.messages); }},
        {Method::post,    "/api/v1/conversations/{id}/messages/{message_id}/edit/stream",       Access::model, [&s](Request& r) { return messages::edit_stream(r, *s.messages, *s.streams); }},
        {Method::post,    "/api/v1/conversations/{id}/messages/{message_id}/regenerate",        Access::model, [&s](Request& r) { return messages::regenerate(r, *s.messages); }},
        {Method::post,    "/api/v1/conversations/{id}/messages/{message_id}/regenerate/stream", Access::model, [&s](Request& r) { return messages::regenerate_stream(r, *s.messages, *s.streams); }},
        {Method::post,    "/api/v1/conversations/{id}/fork",      Access::write, [&s](Request& r) { return conversations::fork(r, *s.conversations); }},
        {Method::post,    "/api/v1/conversations/{id}/share",     Access::write, [&s](Request& r) { return conversations::share(r, *s.conversations); }},
        {Method::get,     "/api/v1/shares",                       Access::read,  [&s](Request& r) { return conversations::list_shares(r, *s.conversations); }},
        {Method::delete_, "/api/v1/shares/{id}",                  Access::write, [&s](Request& r) { return conversations::revoke_share(r, *s.conversations); }},
        {Method::get,     "/share/{token}",                       Access::open,  [&s](Request& r) { return conversations::shared(r, *s.conversations); }},
        {Method::get,     "/api/v1/conversations/{id}/export",    Access::read,  [&s](Request& r) { return conversations::export_conversation(r, *s.conversations); }},
        {Method::post,    "/api/v1/conversations/import",         Access::write, [&s](Request& r) { return conversations::import_conversations(r, *s.conversations); }},
        {Method::get,     "/api/v1/conversations/{id}/events",    Access::read,  [&s](Request& r) { return conversations::events(r, *s.conversations); }},
        {Method::get,     "/api/v1/conversations/{id}/ws",        Access::write, [&s](Request& r) { return messages::websocket(r, *s.messages, *s.conversations, s.gate, *s.sessions); }},
        {Method::get,     "/ws/session/{session_id}",             Access::write, [&s](Request& r) { return messages::websocket(r, *s.messages, *s.conversations, s.gate, *s.sessions); }},
        {Method::get,     "/api/v1/conversations/{id}/session-events", Access::read, [&s](Request& r) { return messages::session_events(r, *s.sessions); }},
        {Method::post,    "/api/v1/conversations/{id}/summary",   Access::model, [&s](Request& r) { return messages::summarize(r, *s.sessions); }},
        {Method::get,     "/api/sessions/{session_id}/summary",   Access::read,  [&s](Request& r) { return messages::session_summary(r, *s.sessions); }},
        {Method::get,     "/api/v1/search",                       Access::read,  [&s](Request& r) { return search::search_messages(r, *s.search); }},
        {Method::get,     "/api/v1/models",                       Access::read,  [&s](Request& r) { return usage::models(r, *s.router); }},
        {Method::get,     "/api/v1/usage/stats",                  Access::read,  [&s](Request& r) { return usage::stats(r, *s.store); }},
        {Method::get,     "/api/v1/usage/budget",                 Access::read,  [&s](Request& r) { return usage::budget(r, *s.budgets); }},

        // OpenAI- and Anthropic-compatible endpoints: stateless, errors in each API's own shape.
        {Method::post, "/v1/chat/completions",      Access::model, [&s](Request& r) { return compat::chat_completions(r, *s.compat); }, compat::openai_error},
        {Method::get,  "/v1/models",                Access::read,  [&s](Request& r) { return compat::list_models(r, *s.compat); }, compat::either_error},
        {Method::post, "/v1/messages",              Access::model, [&s](Request& r) { return compat::create_message(r, *s.compat); }, compat::anthropic_error},
        {Method::post, "/v1/messages/count_tokens", Access::read,  [&s](Request& r) { return compat::count_tokens(r, *s.compat); }, compat::anthropic_error},
        // Administration (issue 16): the admin scope, and the service checks the account's role.
        {Method::get,     "/api/v1/admin/users",       Access::admin, [&s](Request& r) { return admin::list_users(r, *s.admin); }},
        {Method::patch,   "/api/v1/admin/users/{id}",  Access::admin, [&s](Request& r) { return admin::update_user(r, *s.admin); }},
        {Method::get,     "/api/v1/admin/usage",       Access::admin, [&s](Request& r) { return admin::usage(r, *s.admin); }},
        {Method::get,     "/api/v1/admin/audit",       Access::admin, [&s](Request& r) { return admin::audit(r, *s.admin); }},
    };
    // clang-format on
}

std::string route_table_json() {
    Services none;
    boost::json::array out;
    for (const auto& r : make_routes(none)) {
        out.push_back(boost::json::object{
            {"method", http::method_name(r.method)},
            {"path", r.path},
            {"access", access_name(r.access)},
        });
    }
    return boost::json::serialize(out);
}

}  // namespace parley::app
