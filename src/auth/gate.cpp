#include "auth/gate.hpp"

#include "auth/tokens.hpp"
#include "common/strings.hpp"

namespace parley::auth {

namespace asio = boost::asio;

namespace {

// The credential a request presents: the token of `Authorization: Bearer …`, else `X-API-Key`.
std::optional<std::string_view> credential_of(const http::Request& req) {
    if (const auto authorization = req.header("Authorization")) {
        const auto value = trim(*authorization);
        constexpr std::string_view kBearer = "bearer ";
        if (value.size() > kBearer.size() && iequals(value.substr(0, kBearer.size()), kBearer)) {
            return trim(value.substr(kBearer.size()));
        }
        return std::string_view{};  // present but not a bearer credential
    }
    if (const auto key = req.header("X-API-Key")) {
        // Only API keys travel in X-API-Key; an access token belongs in Authorization.
        return looks_like_api_key(trim(*key)) ? trim(*key) : std::string_view{};
    }
    return std::nullopt;
}

// Browsers cannot set headers on a WebSocket or an EventSource: those requests may carry the
// credential as `?token=` (JWT or API key). The access log records paths without queries.
std::optional<std::string> query_credential(const http::Request& req) {
    if (req.method() != http::Method::get) {
        return std::nullopt;
    }
    const auto accept = req.header("Accept");
    const bool event_stream = accept && accept->find("text/event-stream") != std::string_view::npos;
    if (!req.is_websocket_upgrade() && !event_stream) {
        return std::nullopt;
    }
    return req.query_param("token");
}

Scope required_scope(http::Access access) {
    switch (access) {
        case http::Access::write:
        case http::Access::model:
            return Scope::write;
        case http::Access::admin:
            return Scope::admin;
        default:
            return Scope::read;
    }
}

}  // namespace

AuthGate::AuthGate(AuthService& auth, ratelimit::Limiter& limiter, RateLimits limits)
    : auth_(auth),
      limiter_(limiter),
      limits_(limits) {}

asio::awaitable<Result<int>> AuthGate::per_minute(const std::string& user_id, bool model) {
    auto access = co_await auth_.access(user_id);
    if (!access) {
        co_return access.error();
    }
    const int fallback = model ? limits_.model_per_minute : limits_.standard_per_minute;
    if (!*access) {
        co_return fallback;
    }
    const auto& own =
        model ? (*access)->ai_rate_limit_per_minute : (*access)->rate_limit_per_minute;
    co_return own ? static_cast<int>(*own) : fallback;
}

asio::awaitable<Result<void>> AuthGate::admit_model_call(const Principal& who) {
    Headers ignored;
    const auto per_window = co_await per_minute(who.user_id, /*model=*/true);
    if (!per_window) {
        co_return per_window.error();
    }
    co_return co_await limit("ai:user:" + who.user_id, *per_window, ignored);
}

asio::awaitable<Result<void>> AuthGate::limit(std::string key, int per_window, Headers& headers) {
    const auto decision = co_await limiter_.hit(key, ratelimit::Policy{per_window, limits_.window});
    for (auto& h : ratelimit::rate_limit_headers(decision)) {
        headers.push_back(std::move(h));
    }
    if (!decision.allowed) {
        Error e = make_error(
            ErrorType::rate_limit, "rate limit exceeded; retry after the time in Retry-After"
        );
        e.retry_after_s = decision.retry_after_s;
        co_return e;
    }
    co_return Result<void>{};
}

asio::awaitable<Result<void>> AuthGate::admit(
    http::Access access, http::Request& req, Headers& headers
) {
    if (access == http::Access::open) {
        co_return Result<void>{};
    }
    if (access == http::Access::credential) {
        co_return co_await limit(
            "auth:ip:" + std::string(req.client_ip()), limits_.credential_per_minute, headers
        );
    }

    bool credential_free = false;  // AUTH_MODE=open and no credential: the local user
    auto credential = credential_of(req);
    const auto from_query = credential ? std::nullopt : query_credential(req);
    if (from_query) {
        credential = trim(*from_query);
    }
    if (!credential && anonymous_) {
        credential_free = true;
    }
    if (!credential && !credential_free) {
        co_return make_error(
            ErrorType::authentication, "missing credentials: send Authorization: Bearer <token>"
        );
    }
    Result<Principal> principal = make_error(ErrorType::authentication, "");
    if (credential_free) {
        principal = *anonymous_;
    } else {
        if (credential->empty()) {
            co_return make_error(
                ErrorType::authentication,
                "send an access token as Authorization: Bearer, an API key as Bearer or X-API-Key"
            );
        }
        principal = co_await auth_.authenticate(*credential);
        if (!principal) {
            co_return principal.error();
        }
    }
    const Scope scope = required_scope(access);
    if (!principal->has(scope)) {
        co_return make_error(
            ErrorType::permission,
            "this API key lacks the " + std::string(scope_name(scope)) + " scope"
        );
    }
    req.set_principal(std::move(*principal));
    // An admin may have given the account limits of its own (PATCH /api/v1/admin/users/{id}).
    const bool model = access == http::Access::model;
    const auto per_window = co_await per_minute(req.principal().user_id, model);
    if (!per_window) {
        co_return per_window.error();
    }
    co_return co_await limit(
        (model ? "ai:user:" : "std:user:") + req.principal().user_id, *per_window, headers
    );
}

}  // namespace parley::auth
