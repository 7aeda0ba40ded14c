#include "auth/routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "common/ids.hpp"
#include "common/json.hpp"
#include "http/body.hpp"
#include "http/pagination.hpp"

namespace parley::auth {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

bj::object user_json(const store::User& u) {
    return {{"id", u.id}, {"email", u.email}, {"created_at", to_iso8601(u.created_at)}};
}

bj::object session_json(const Session& s) {
    return {
        {"access_token", s.access_token},
        {"refresh_token", s.refresh_token},
        {"token_type", "bearer"},
        {"expires_in", s.expires_in},
        {"user", user_json(s.user)},
    };
}

bj::object key_json(const store::ApiKey& k) {
    bj::array scopes;
    for (auto& name : scope_names(k.scopes)) {
        scopes.emplace_back(name);
    }
    return {
        {"id", k.id},
        {"name", k.name},
        {"prefix", k.prefix},
        {"scopes", std::move(scopes)},
        {"created_at", to_iso8601(k.created_at)},
        {"last_used_at", json::time_or_null(k.last_used_at)},
        {"expires_at", json::time_or_null(k.expires_at)},
    };
}

struct Credentials {
    std::string email;
    std::string password;
};

Credentials read_credentials(const http::Request& req) {
    const auto body = value_or_throw(http::read_json_object(req));
    value_or_throw(json::reject_unknown_fields(body, {"email", "password"}));
    return {
        value_or_throw(json::required_string(body, "email")),
        value_or_throw(json::required_string(body, "password"))};
}

std::string read_refresh_token(const http::Request& req) {
    const auto body = value_or_throw(http::read_json_object(req));
    value_or_throw(json::reject_unknown_fields(body, {"refresh_token"}));
    auto token = value_or_throw(json::required_string(body, "refresh_token"));
    if (token.empty() || token.size() > 512) {
        throw ErrorException(
            make_error(ErrorType::unprocessable, "`refresh_token` is not a valid token")
        );
    }
    return token;
}

}  // namespace

asio::awaitable<http::Response> register_user(http::Request& req, AuthService& auth) {
    auto [email, password] = read_credentials(req);
    auto session = value_or_throw(co_await auth.register_user(
        std::move(email), std::move(password), std::string(req.client_ip())
    ));
    co_return http::success(session_json(session), 201);
}

asio::awaitable<http::Response> login(http::Request& req, AuthService& auth) {
    auto [email, password] = read_credentials(req);
    auto session = value_or_throw(
        co_await auth.login(std::move(email), std::move(password), std::string(req.client_ip()))
    );
    co_return http::success(session_json(session));
}

asio::awaitable<http::Response> refresh(http::Request& req, AuthService& auth) {
    auto session =
        value_or_throw(co_await auth.refresh(read_refresh_token(req), std::string(req.client_ip()))
        );
    co_return http::success(session_json(session));
}

asio::awaitable<http::Response> logout(http::Request& req, AuthService& auth) {
    value_or_throw(co_await auth.logout(req.principal(), read_refresh_token(req)));
    co_return http::success(bj::object{{"message", "Logged out successfully"}});
}

asio::awaitable<http::Response> me(http::Request& req, AuthService& auth) {
    const auto user = value_or_throw(co_await auth.current_user(req.principal()));
    auto data = user_json(user);
    data["auth"] = req.principal().api_key_id.empty() ? "jwt" : "api_key";
    co_return http::success(data);
}

asio::awaitable<http::Response> create_api_key(http::Request& req, AuthService& auth) {
    const auto body = value_or_throw(http::read_json_object(req));
    value_or_throw(json::reject_unknown_fields(body, {"name", "scopes", "expires_at"}));
    auto name = value_or_throw(json::required_string(body, "name"));
    unsigned scopes = static_cast<unsigned>(Scope::read) | static_cast<unsigned>(Scope::write);
    if (const auto* v = body.if_contains("scopes"); v != nullptr && !v->is_null()) {
        if (!v->is_array() || v->as_array().empty()) {
            throw ErrorException(make_error(
                ErrorType::unprocessable, "`scopes` must be a non-empty array of read, write, admin"
            ));
        }
        scopes = 0;
        for (const auto& item : v->as_array()) {
            Scope s{};
            if (!item.is_string() || !parse_scope(item.as_string(), s)) {
                throw ErrorException(make_error(
                    ErrorType::unprocessable, "`scopes` may contain only read, write, admin"
                ));
            }
            scopes |= static_cast<unsigned>(s);
        }
    }
    std::optional<TimePoint> expires_at;
    if (auto text = value_or_throw(json::optional_string(body, "expires_at"))) {
        expires_at = parse_iso8601(*text);
        if (!expires_at) {
            throw ErrorException(
                make_error(ErrorType::unprocessable, "`expires_at` must be an ISO 8601 date-time")
            );
        }
    }
    auto created = value_or_throw(
        co_await auth.create_api_key(req.principal(), std::move(name), scopes, expires_at)
    );
    auto data = key_json(created.record);
    data["key"] = created.key;
    co_return http::success(data, 201);
}

asio::awaitable<http::Response> list_api_keys(http::Request& req, AuthService& auth) {
    const auto page = value_or_throw(http::parse_page(req));
    const auto keys = value_or_throw(co_await auth.list_api_keys(req.principal()));
    bj::array data;
    const auto total = static_cast<std::int64_t>(keys.size());
    for (std::int64_t i = page.offset(); i < total && i < page.offset() + page.per_page; ++i) {
        data.push_back(key_json(keys[static_cast<std::size_t>(i)]));
    }
    co_return http::success_list(std::move(data), page.page, page.per_page, total);
}

asio::awaitable<http::Response> delete_api_key(http::Request& req, AuthService& auth) {
    const auto id = req.path_param("id");
    if (!is_uuid(id)) {
        throw ErrorException(make_error(ErrorType::not_found, "no such API key"));
    }
    value_or_throw(co_await auth.revoke_api_key(req.principal(), std::string(id)));
    co_return http::no_content();
}

}  // namespace parley::auth
