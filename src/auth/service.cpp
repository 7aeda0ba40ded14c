#include "auth/service.hpp"

#include <algorithm>

#include <boost/json/array.hpp>

#include "auth/passwords.hpp"
#include "auth/tokens.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"

namespace parley::auth {

namespace asio = boost::asio;

namespace {

Error invalid_credentials() {
    return make_error(ErrorType::authentication, "invalid email or password");
}

Error invalid_refresh_token() {
    return make_error(ErrorType::authentication, "invalid or expired refresh token");
}

// How often last_used_at is written for a key in use: often enough to be useful, rarely enough
// that an API key does not turn every read into a write.
constexpr auto kTouchInterval = std::chrono::minutes(1);

}  // namespace

AuthService::AuthService(
    store::Store& store,
    async::BlockingPool& pool,
    AuthOptions options,
    Clock clock,
    AccountControls controls
)
    : store_(store),
      pool_(pool),
      options_(std::move(options)),
      jwt_(options_.jwt),
      clock_(std::move(clock)),
      controls_(controls) {}

asio::awaitable<Result<void>> AuthService::audit_commit(AuditRecord r) {
    if (controls_.audit == nullptr) {
        co_return Result<void>{};
    }
    co_return co_await controls_.audit->commit(std::move(r));
}

void AuthService::audit_record(AuditRecord r) {
    if (controls_.audit != nullptr) {
        controls_.audit->record(std::move(r));
    }
}

asio::awaitable<Result<std::optional<store::UserAccess>>> AuthService::access(std::string user_id) {
    if (controls_.access == nullptr) {
        co_return std::optional<store::UserAccess>{};
    }
    co_return co_await controls_.access->get(std::move(user_id));
}

asio::awaitable<Result<void>> AuthService::check_active(std::string user_id, bool fresh) {
    if (controls_.access == nullptr) {
        co_return Result<void>{};
    }
    auto access = co_await controls_.access->get(std::move(user_id), fresh);
    if (!access) {
        co_return access.error();
    }
    if (!*access) {
        co_return make_error(ErrorType::authentication, "the account no longer exists");
    }
    if ((*access)->disabled()) {
        co_return make_error(ErrorType::authentication, "this account is disabled");
    }
    co_return Result<void>{};
}

asio::awaitable<void> AuthService::assign_role(const store::User& user) {
    if (controls_.admin_store == nullptr) {
        co_return;
    }
    std::string_view reason;
    bool granted = false;
    if (!options_.admin_emails.empty()) {
        const auto& named = options_.admin_emails;
        if (std::find(named.begin(), named.end(), user.email) == named.end()) {
            co_return;
        }
        std::vector<std::string> emails{user.email};
        auto promoted = co_await controls_.admin_store->promote_admins(std::move(emails));
        if (!promoted) {
            log::warn("could not make an ADMIN_EMAILS account an admin", {{"user_id", user.id}});
            co_return;
        }
        granted = !promoted->empty();
        reason = "ADMIN_EMAILS";
    } else {
        auto first = co_await controls_.admin_store->promote_first_user();
        if (!first) {
            log::warn("could not make the first account an admin", {{"user_id", user.id}});
            co_return;
        }
        granted = *first && **first == user.id;
        reason = "first_account";
    }
    if (granted) {
        log::info("account made an admin", {{"user_id", user.id}, {"reason", reason}});
        audit_record(
            {audit_kind::admin_granted, user.id, std::nullopt, std::nullopt, {{"reason", reason}}}
        );
    }
}

asio::awaitable<Result<Session>> AuthService::start_session(
    store::User user, std::string family_id
) {
    const auto now = clock_();
    const std::string refresh = random_token(32);
    store::RefreshToken token;
    token.id = new_uuid_v7();
    token.user_id = user.id;
    token.family_id = std::move(family_id);
    token.token_sha256 = sha256_hex(refresh);
    token.created_at = now;
    token.expires_at = now + options_.refresh_lifetime;
    auto stored = co_await store_.insert_refresh_token(token);
    if (!stored) {
        co_return stored.error();
    }
    Session s;
    s.access_token = jwt_.issue(user.id, now);
    s.refresh_token = refresh;
    s.expires_in = options_.jwt.lifetime.count();
    s.user = std::move(user);
    co_return s;
}

asio::awaitable<Result<Session>> AuthService::register_user(
    std::string email, std::string password, std::string client_ip
) {
    auto normalized = normalize_email(email);
    if (!normalized) {
        co_return normalized.error();
    }
    if (auto ok = validate_password(password); !ok) {
        co_return ok.error();
    }
    store::User user;
    user.id = new_uuid_v7();
    user.email = std::move(*normalized);
    user.created_at = clock_();
    user.password_hash =
        co_await async::offload(pool_, [&password] { return hash_password(password); });
    if (auto created = co_await store_.create_user(user); !created) {
        co_return created.error();
    }
    log::info("user registered", {{"user_id", user.id}});
    co_await assign_role(user);
    // Arguments of a coroutine called in a co_await are named locals (g++ 12, docs/design.md).
    AuditRecord signup{
        audit_kind::signup, user.id, std::nullopt, std::move(client_ip), {{"email", user.email}}};
    if (auto audited = co_await audit_commit(std::move(signup)); !audited) {
        co_return audited.error();
    }
    co_return co_await start_session(std::move(user), new_uuid_v7());
}

asio::awaitable<Result<Session>> AuthService::login(
    std::string email, std::string password, std::string client_ip
) {
    auto normalized = normalize_email(email);
    std::optional<store::User> user;
    if (normalized) {
        auto found = co_await store_.find_user_by_email(*normalized);
        if (!found) {
            co_return found.error();
        }
        user = std::move(*found);
    }
    // Verify against a dummy hash when there is no such user, so both failures take as long.
    const std::string& stored = user ? user->password_hash : dummy_password_hash();
    const bool match = co_await async::offload(pool_, [&password, &stored] {
        return verify_password(password, stored);
    });
    if (!user || !match) {
        // The email as typed only when it is one (a password typed into the email field is not).
        boost::json::object detail{{"reason", user ? "wrong_password" : "unknown_email"}};
        if (normalized) {
            detail["email"] = *normalized;
        }
        audit_record(
            {audit_kind::login_failed,
             user ? std::optional<std::string>(user->id) : std::nullopt,
             std::nullopt,
             std::move(client_ip),
             std::move(detail)}
        );
        co_return invalid_credentials();
    }
    if (auto active = co_await check_active(user->id, /*fresh=*/true); !active) {
        audit_record(
            {audit_kind::login_failed,
             user->id,
             std::nullopt,
             std::move(client_ip),
             {{"reason", "disabled"}, {"email", user->email}}}
        );
        co_return active.error();
    }
    auto session = co_await start_session(std::move(*user), new_uuid_v7());
    if (!session) {
        co_return session.error();
    }
    AuditRecord signed_in{audit_kind::login, session->user.id, std::nullopt, std::move(client_ip)};
    if (auto audited = co_await audit_commit(std::move(signed_in)); !audited) {
        co_return audited.error();
    }
    co_return session;
}

asio::awaitable<Result<Session>> AuthService::refresh(
    std::string refresh_token, std::string client_ip
) {
    auto found = co_await store_.find_refresh_token(sha256_hex(refresh_token));
    if (!found) {
        co_return found.error();
    }
    if (!*found) {
        co_return invalid_refresh_token();
    }
    const store::RefreshToken& token = **found;
    const auto now = clock_();
    if (token.revoked_at) {
        if (token.replaced_by) {
            // A rotated token came back: it was stolen or replayed. Revoke the whole family.
            log::warn(
                "refresh token reuse detected; family revoked",
                {{"user_id", token.user_id}, {"family_id", token.family_id}}
            );
            audit_record(
                {audit_kind::refresh_reuse,
                 token.user_id,
                 std::nullopt,
                 client_ip,
                 {{"family_id", token.family_id}, {"reason", "rotated_token_presented"}}}
            );
            if (auto revoked = co_await store_.revoke_refresh_family(token.family_id, now);
                !revoked) {
                co_return revoked.error();
            }
        }
        co_return invalid_refresh_token();
    }
    if (token.expires_at <= now) {
        co_return invalid_refresh_token();
    }
    auto user = co_await store_.find_user(token.user_id);
    if (!user) {
        co_return user.error();
    }
    if (!*user) {
        co_return invalid_refresh_token();
    }
    if (auto active = co_await check_active(token.user_id, /*fresh=*/true); !active) {
        co_return active.error();
    }

    const std::string fresh = random_token(32);
    store::RefreshToken replacement;
    replacement.id = new_uuid_v7();
    replacement.user_id = token.user_id;
    replacement.family_id = token.family_id;
    replacement.token_sha256 = sha256_hex(fresh);
    replacement.created_at = now;
    replacement.expires_at = now + options_.refresh_lifetime;
    auto rotated = co_await store_.rotate_refresh_token(token.id, replacement, now);
    if (!rotated) {
        co_return rotated.error();
    }
    if (!*rotated) {
        // Another request rotated it first: the same token was presented twice.
        audit_record(
            {audit_kind::refresh_reuse,
             token.user_id,
             std::nullopt,
             client_ip,
             {{"family_id", token.family_id}, {"reason", "concurrent_rotation"}}}
        );
        if (auto revoked = co_await store_.revoke_refresh_family(token.family_id, now); !revoked) {
            co_return revoked.error();
        }
        co_return invalid_refresh_token();
    }
    Session s;
    s.access_token = jwt_.issue(token.user_id, now);
    s.refresh_token = fresh;
    s.expires_in = options_.jwt.lifetime.count();
    s.user = std::move(**user);
    co_return s;
}

asio::awaitable<Result<void>> AuthService::logout(const Principal& who, std::string refresh_token) {
    auto found = co_await store_.find_refresh_token(sha256_hex(refresh_token));
    if (!found) {
        co_return found.error();
    }
    if (*found && (*found)->user_id == who.user_id) {
        co_return co_await store_.revoke_refresh_family((*found)->family_id, clock_());
    }
    co_return Result<void>{};
}

asio::awaitable<Result<store::User>> AuthService::current_user(const Principal& who) {
    auto user = co_await store_.find_user(who.user_id);
    if (!user) {
        co_return user.error();
    }
    if (!*user) {
        co_return make_error(ErrorType::authentication, "the account no longer exists");
    }
    co_return std::move(**user);
}

asio::awaitable<Result<store::User>> AuthService::ensure_passwordless_user(
    std::string id, std::string email
) {
    auto found = co_await store_.find_user(id);
    if (!found) {
        co_return found.error();
    }
    if (*found) {
        co_return std::move(**found);
    }
    // "!" is no password hash verify_password accepts: nobody can sign in as this user.
    store::User user{std::move(id), std::move(email), "!", clock_()};
    auto created = co_await store_.create_user(user);
    if (!created && created.error().type == ErrorType::conflict) {
        // Created meanwhile by another request or instance: use that one.
        auto again = co_await store_.find_user(user.id);
        if (again && *again) {
            co_return std::move(**again);
        }
    }
    if (!created) {
        co_return created.error();
    }
    co_return user;
}

asio::awaitable<Result<Principal>> AuthService::authenticate(std::string_view credential) {
    if (looks_like_api_key(credential)) {
        co_return co_await authenticate_api_key(credential);
    }
    // A token verified a moment ago is only checked against the clock again (VerifiedTokens).
    const auto now = clock_();
    std::optional<Claims> claims = verified_.find(credential, now, jwt_.config().leeway);
    if (!claims) {
        auto verified = jwt_.verify(credential, now);
        if (!verified) {
            co_return verified.error();
        }
        verified_.remember(credential, *verified, now);
        claims = std::move(*verified);
    }
    // A JWT is valid without the database; the account behind it may have been disabled since.
    if (auto active = co_await check_active(claims->sub, /*fresh=*/false); !active) {
        co_return active.error();
    }
    co_return Principal{std::move(claims->sub), {}, kAllScopes};
}

asio::awaitable<Result<Principal>> AuthService::authenticate_api_key(std::string_view key) {
    // Through the access cache when there is one (the server): a key is read from the store at
    // most once a second per instance, and a revocation here is seen at once.
    const std::string sha256 = sha256_hex(key);
    Result<std::optional<store::ApiKey>> found = std::optional<store::ApiKey>{};
    if (controls_.access != nullptr) {
        found = co_await controls_.access->api_key(sha256);
    } else {
        found = co_await store_.find_api_key(sha256);
    }
    if (!found) {
        co_return found.error();
    }
    const auto now = clock_();
    if (!*found || (*found)->revoked_at) {
        co_return make_error(ErrorType::authentication, "invalid or revoked API key");
    }
    const store::ApiKey& k = **found;
    if (k.expires_at && *k.expires_at <= now) {
        co_return make_error(ErrorType::authentication, "API key expired");
    }
    if (auto active = co_await check_active(k.user_id, /*fresh=*/false); !active) {
        co_return active.error();
    }
    if (!k.last_used_at || now - *k.last_used_at >= kTouchInterval) {
        if (auto touched = co_await store_.touch_api_key(k.id, now); !touched) {
            log::warn(
                "could not record API key use",
                {{"key_id", k.id}, {"detail", touched.error().detail}}
            );
        } else if (controls_.access != nullptr) {
            controls_.access->api_key_used(sha256, now);
        }
    }
    co_return Principal{k.user_id, k.id, k.scopes};
}

asio::awaitable<Result<CreatedApiKey>> AuthService::create_api_key(
    const Principal& who, std::string name, unsigned scopes, std::optional<TimePoint> expires_at
) {
    const auto now = clock_();
    if (name.empty() || name.size() > 100) {
        co_return make_error(ErrorType::unprocessable, "name must be 1 to 100 characters");
    }
    if (scopes == 0 || (scopes & ~kAllScopes) != 0) {
        co_return make_error(
            ErrorType::unprocessable, "scopes must name at least one of read, write, admin"
        );
    }
    if (expires_at && *expires_at <= now) {
        co_return make_error(ErrorType::unprocessable, "expires_at must be in the future");
    }
    // A key cannot grant more than the credential that creates it.
    if ((scopes & ~who.scopes) != 0) {
        co_return make_error(ErrorType::permission, "a key cannot have scopes its creator lacks");
    }
    const NewApiKey generated = new_api_key();
    store::ApiKey record;
    record.id = new_uuid_v7();
    record.user_id = who.user_id;
    record.name = std::move(name);
    record.prefix = generated.prefix;
    record.key_sha256 = generated.sha256;
    record.scopes = scopes;
    record.created_at = now;
    record.expires_at = expires_at;
    if (auto created = co_await store_.create_api_key(record); !created) {
        co_return created.error();
    }
    boost::json::array scope_list;
    for (auto& scope : scope_names(record.scopes)) {
        scope_list.emplace_back(scope);
    }
    AuditRecord created{
        audit_kind::api_key_created,
        record.user_id,
        std::nullopt,
        std::nullopt,
        {{"key_id", record.id}, {"name", record.name}, {"scopes", std::move(scope_list)}}};
    if (auto audited = co_await audit_commit(std::move(created)); !audited) {
        co_return audited.error();
    }
    co_return CreatedApiKey{std::move(record), generated.key};
}

asio::awaitable<Result<std::vector<store::ApiKey>>> AuthService::list_api_keys(const Principal& who
) {
    co_return co_await store_.list_api_keys(who.user_id);
}

asio::awaitable<Result<store::BudgetLimit>> AuthService::set_api_key_budget(
    const Principal& who, std::string id, BudgetFields fields
) {
    if (!fields.any()) {
        co_return make_error(
            ErrorType::unprocessable,
            "give at least one of max_budget_usd, soft_budget_usd, budget_period"
        );
    }
    auto own = co_await store_.list_api_keys(who.user_id);
    if (!own) {
        co_return own.error();
    }
    const bool owner =
        std::any_of(own->begin(), own->end(), [&id](const store::ApiKey& k) { return k.id == id; });
    if (!owner) {
        // An admin may change any account's key; anyone else learns nothing of other keys.
        auto caller = co_await access(who.user_id);
        if (!caller) {
            co_return caller.error();
        }
        if (!*caller || !(*caller)->admin() || (*caller)->disabled()) {
            co_return make_error(ErrorType::not_found, "no such API key");
        }
    }
    auto& budgets = store::budget_store(store_);
    auto current = co_await budgets.find_key_budget(id);
    if (!current) {
        co_return current.error();
    }
    if (!*current) {
        co_return make_error(ErrorType::not_found, "no such API key");
    }
    store::BudgetLimit next = **current;
    fields.apply_to(next.max_micros, next.soft_micros, next.period);
    auto set = co_await budgets.set_key_budget(id, next);
    if (!set) {
        co_return set.error();
    }
    if (!*set) {
        co_return make_error(ErrorType::not_found, "no such API key");
    }
    co_return next;
}

asio::awaitable<Result<void>> AuthService::revoke_api_key(const Principal& who, std::string id) {
    auto revoked = co_await store_.revoke_api_key(id, who.user_id, clock_());
    if (!revoked) {
        co_return revoked.error();
    }
    if (!*revoked) {
        co_return make_error(ErrorType::not_found, "no such API key");
    }
    if (controls_.access != nullptr) {
        controls_.access->forget_api_key(id);  // refused here at once, elsewhere within 1 s
    }
    AuditRecord revocation{
        audit_kind::api_key_revoked, who.user_id, std::nullopt, std::nullopt, {{"key_id", id}}};
    co_return co_await audit_commit(std::move(revocation));
}

}  // namespace parley::auth
