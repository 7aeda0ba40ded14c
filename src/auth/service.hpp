// Accounts and credentials: registration and login (Argon2id, hashed off the I/O threads), access
// tokens (HS256 JWT), rotating refresh tokens with reuse detection, API keys with scopes, and the
// resolution of a presented credential to a Principal. No HTTP types here.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "async/blocking_pool.hpp"
#include "auth/jwt.hpp"
#include "common/error.hpp"
#include "common/principal.hpp"
#include "common/time.hpp"
#include "store/store.hpp"

namespace parley::auth {

struct AuthOptions {
    JwtConfig jwt;
    std::chrono::hours refresh_lifetime{7 * 24};
};

// What register, login and refresh return.
struct Session {
    std::string access_token;
    std::string refresh_token;
    std::int64_t expires_in = 0;  // access token lifetime in seconds
    store::User user;
};

// A key as created: the secret is in `key`, returned this once and never stored.
struct CreatedApiKey {
    store::ApiKey record;
    std::string key;
};

class AuthService {
public:
    AuthService(
        store::Store& store,
        async::BlockingPool& pool,
        AuthOptions options,
        Clock clock = system_now
    );

    // Creates an account and signs it in. Errors: unprocessable (invalid email or password),
    // conflict (email taken).
    boost::asio::awaitable<Result<Session>> register_user(std::string email, std::string password);

    // Signs in. Unknown email and wrong password give the same authentication error and take the
    // same time (a dummy hash is verified when the email is unknown).
    boost::asio::awaitable<Result<Session>> login(std::string email, std::string password);

    // Rotates a refresh token: the presented one is revoked and a new pair issued. Presenting a
    // token that was already rotated revokes its whole family. Errors: authentication.
    boost::asio::awaitable<Result<Session>> refresh(std::string refresh_token);

    // Revokes the family of `refresh_token` when it belongs to `who`; unknown tokens are ignored
    // (logging out is idempotent and does not reveal whether a token exists).
    boost::asio::awaitable<Result<void>> logout(const Principal& who, std::string refresh_token);

    // The account of `who`. Errors: authentication when it no longer exists.
    boost::asio::awaitable<Result<store::User>> current_user(const Principal& who);

    // The account `id`, created with `email` if it does not exist yet, that nobody can sign in to
    // with a password: the local user of AUTH_MODE=open. Safe to call concurrently.
    boost::asio::awaitable<Result<store::User>> ensure_passwordless_user(
        std::string id, std::string email
    );

    // Resolves `Authorization: Bearer <credential>` (a JWT or an API key) or `X-API-Key`.
    // Errors: authentication (malformed, bad signature, expired, revoked, unknown).
    boost::asio::awaitable<Result<Principal>> authenticate(std::string_view credential);

    // Creates an API key for `who` with `scopes` (a bit set; default read+write) expiring at
    // `expires_at` (must be in the future). Errors: unprocessable.
    boost::asio::awaitable<Result<CreatedApiKey>> create_api_key(
        const Principal& who, std::string name, unsigned scopes, std::optional<TimePoint> expires_at
    );

    boost::asio::awaitable<Result<std::vector<store::ApiKey>>> list_api_keys(const Principal& who);

    // Revokes one of `who`'s keys. Errors: not_found (no such key of theirs).
    boost::asio::awaitable<Result<void>> revoke_api_key(const Principal& who, std::string id);

    const AuthOptions& options() const noexcept { return options_; }

private:
    boost::asio::awaitable<Result<Session>> start_session(store::User user, std::string family_id);
    boost::asio::awaitable<Result<Principal>> authenticate_api_key(std::string_view key);

    store::Store& store_;
    async::BlockingPool& pool_;
    AuthOptions options_;
    Jwt jwt_;
    Clock clock_;
};

}  // namespace parley::auth
