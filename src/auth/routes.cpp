#include "auth/routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "auth/requests.hpp"
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

// A key's cap (its spend: GET /api/v1/usage/budget).
bj::object budget_limit_json(const store::BudgetLimit& l) {
    return {
        {"max_budget_usd", json::usd_or_null(l.max_micros)},
        {"soft_budget_usd", json::usd_or_null(l.soft_micros)},
        {"budget_period", l.period},
    };
}

Credentials read_credentials(const http::Request& req) {
    return value_or_throw(credentials_of(value_or_throw(http::read_json_object(req))));
}

std::string read_refresh_token(const http::Request& req) {
    return value_or_throw(refresh_token_of(value_or_throw(http::read_json_object(req))));
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
    co_return http::success(std::move(data));
}

asio::awaitable<http::Response> create_api_key(http::Request& req, AuthService& auth) {
    const auto body = value_or_throw(http::read_json_object(req));
    auto [name, scopes, expires_at, budget] = value_or_throw(api_key_request_of(body));
    auto created = value_or_throw(
        co_await auth.create_api_key(req.principal(), std::move(name), scopes, expires_at)
    );
    auto data = key_json(created.record);
    data["key"] = created.key;
    if (budget.any()) {
        // Validated with the body above; what can fail here is the database.
        const auto limit = value_or_throw(
            co_await auth.set_api_key_budget(req.principal(), created.record.id, std::move(budget))
        );
        data["budget"] = budget_limit_json(limit);
    }
    co_return http::success(std::move(data), 201);
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

asio::awaitable<http::Response> update_api_key_budget(http::Request& req, AuthService& auth) {
    const auto id = req.path_param("id");
    if (!is_uuid(id)) {
        throw ErrorException(make_error(ErrorType::not_found, "no such API key"));
    }
    const auto body = value_or_throw(http::read_json_object(req));
    value_or_throw(
        json::reject_unknown_fields(body, {"max_budget_usd", "soft_budget_usd", "budget_period"})
    );
    auto fields = value_or_throw(budget_fields_of(body));
    const auto limit = value_or_throw(
        co_await auth.set_api_key_budget(req.principal(), std::string(id), std::move(fields))
    );
    auto data = budget_limit_json(limit);
    data["id"] = std::string(id);
    co_return http::success(std::move(data));
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
