// The gate every non-open route passes: resolves the caller's credential (Authorization: Bearer
// JWT or API key, or X-API-Key), checks the route's scope and applies its rate limit.
#pragma once

#include <chrono>
#include <optional>

#include "auth/service.hpp"
#include "http/gate.hpp"
#include "ratelimit/limiter.hpp"

namespace parley::auth {

struct RateLimits {
    int standard_per_minute = 60;
    int model_per_minute = 10;
    int credential_per_minute = 20;  // per client IP on register, login and refresh
    std::chrono::milliseconds window{60'000};
};

class AuthGate final : public http::Gate {
public:
    AuthGate(AuthService& auth, ratelimit::Limiter& limiter, RateLimits limits);

    boost::asio::awaitable<Result<void>> admit(
        http::Access access, http::Request& req, Headers& headers
    ) override;

    // Counts one model call by `who` against the per-user model limit (the account's own when an
    // admin set one), for calls that are not
    // requests of their own (each turn of a WebSocket session). Error: rate_limit with
    // retry_after_s.
    boost::asio::awaitable<Result<void>> admit_model_call(const Principal& who);

    // AUTH_MODE=open: a request that carries no credential at all acts as `local` (one that
    // carries a credential is checked as always). Call before serving.
    void allow_anonymous_as(Principal local) { anonymous_ = std::move(local); }

private:
    boost::asio::awaitable<Result<void>> limit(std::string key, int per_window, Headers& headers);
    // The account's limit per window: its own when an admin set one, else the server's.
    boost::asio::awaitable<Result<int>> per_minute(const std::string& user_id, bool model);

    AuthService& auth_;
    ratelimit::Limiter& limiter_;
    RateLimits limits_;
    std::optional<Principal> anonymous_;
};

}  // namespace parley::auth
