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
#include "auth/access_cache.hpp"
#include "auth/audit_log.hpp"
#include "auth/jwt.hpp"
#include "auth/requests.hpp"
#include "auth/verified_tokens.hpp"
#include "common/error.hpp"
#include "common/principal.hpp"
#include "common/time.hpp"
#include "store/admin_store.hpp"
#include "store/budget_store.hpp"
#include "store/store.hpp"

namespace parley::auth {

struct AuthOptions {
    JwtConfig jwt;
    std::chrono::hours refresh_lifetime{7 * 24};
    // ADMIN_EMAILS, normalised: these accounts are admins from sign-up on. Empty: the first
    // account is the admin.
    std::vector<std::string> admin_emails;
};

// Admin and audit (issue 16). The server sets all three; without them (unit tests of the
// credentials alone) roles are not assigned, disabled accounts are not checked and nothing is
// audited.
struct AccountControls {
    store::AdminStore* admin_store = nullptr;  // roles at sign-up
    AccessCache* access = nullptr;             // disabled accounts, per-user limits
    AuditLog* audit = nullptr;
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
        Clock clock = system_now,
        AccountControls controls = {}
    );

    // Creates an account and signs it in; an ADMIN_EMAILS account (or, when that is unset, the
    // first account) is an admin. Audited (signup) before it returns; `client_ip` goes in the
    // audit log. Errors: unprocessable (invalid email or password), conflict (email taken).
    boost::asio::awaitable<Result<Session>> register_user(
        std::string email, std::string password, std::string client_ip = {}
    );

    // Signs in. Unknown email and wrong password give the same authentication error and take the
    // same time (a dummy hash is verified when the email is unknown); a disabled account is an
    // authentication error once the password matched. Audited: login, or login_failed (not
    // waited for).
    boost::asio::awaitable<Result<Session>> login(
        std::string email, std::string password, std::string client_ip = {}
    );

    // Rotates a refresh token: the presented one is revoked and a new pair issued. Presenting a
    // token that was already rotated revokes its whole family (audited: refresh_reuse). Errors:
    // authentication (also for a disabled account).
    boost::asio::awaitable<Result<Session>> refresh(
        std::string refresh_token, std::string client_ip = {}
    );

    // The account's role, disabled state and rate limits, through the access cache (nullopt when
    // there is no such account, or no cache: AccountControls unset). Errors: the store's.
    boost::asio::awaitable<Result<std::optional<store::UserAccess>>> access(std::string user_id);

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
    // Errors: authentication (malformed, bad signature, expired, revoked, unknown; the account
    // disabled or deleted, as the access cache last read it).
    boost::asio::awaitable<Result<Principal>> authenticate(std::string_view credential);

    // Creates an API key for `who` with `scopes` (a bit set; default read+write) expiring at
    // `expires_at` (must be in the future). Audited (api_key_created). Errors: unprocessable.
    boost::asio::awaitable<Result<CreatedApiKey>> create_api_key(
        const Principal& who, std::string name, unsigned scopes, std::optional<TimePoint> expires_at
    );

    boost::asio::awaitable<Result<std::vector<store::ApiKey>>> list_api_keys(const Principal& who);

    // Revokes one of `who`'s keys. Audited (api_key_revoked). Errors: not_found (no such key of
    // theirs).
    boost::asio::awaitable<Result<void>> revoke_api_key(const Principal& who, std::string id);

    // Sets the budget fields present on API key `id` and returns its cap after. The key must be
    // `who`'s, or `who` an admin. Errors: not_found (no such unrevoked key, or another account's
    // while `who` is no admin), unprocessable (no budget field given).
    boost::asio::awaitable<Result<store::BudgetLimit>> set_api_key_budget(
        const Principal& who, std::string id, BudgetFields fields
    );

    const AuthOptions& options() const noexcept { return options_; }

private:
    boost::asio::awaitable<Result<Session>> start_session(store::User user, std::string family_id);
    boost::asio::awaitable<Result<Principal>> authenticate_api_key(std::string_view key);
    // Errors: authentication when the account is gone or disabled.
    boost::asio::awaitable<Result<void>> check_active(std::string user_id, bool fresh);
    // Makes a new account an admin when ADMIN_EMAILS names it or it is the first; failures are
    // logged (start-up repeats the rule).
    boost::asio::awaitable<void> assign_role(const store::User& user);
    boost::asio::awaitable<Result<void>> audit_commit(AuditRecord r);
    void audit_record(AuditRecord r);

    store::Store& store_;
    async::BlockingPool& pool_;
    AuthOptions options_;
    Jwt jwt_;
    VerifiedTokens verified_;
    Clock clock_;
    AccountControls controls_;
};

}  // namespace parley::auth
