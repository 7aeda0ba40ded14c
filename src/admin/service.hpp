// Administration (issue 16): the accounts (list, disable, role, per-user rate limits, budgets),
// usage over all users, and the audit log. Every method checks that the caller's account is an
// admin (read fresh from the store, not from the gate's cache) and returns a permission error
// otherwise. Admin changes are audited (audit_kind::admin_user_updated) before they are answered.
// No HTTP here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "auth/access_cache.hpp"
#include "auth/audit_log.hpp"
#include "auth/requests.hpp"
#include "common/error.hpp"
#include "common/principal.hpp"
#include "common/time.hpp"
#include "store/admin_store.hpp"
#include "store/store.hpp"

namespace parley::admin {

// What PATCH /api/v1/admin/users/{id} may change; absent fields stay as they are. A rate limit set
// to nullopt inside the optional goes back to the server's default.
struct UserChange {
    std::optional<bool> disabled;
    std::optional<std::string> role;
    std::optional<std::optional<std::int64_t>> rate_limit_per_minute;
    std::optional<std::optional<std::int64_t>> ai_rate_limit_per_minute;
    auth::BudgetFields budget{};  // max_budget_usd, soft_budget_usd, budget_period
};

// The bounds of a per-user rate limit (requests per window).
inline constexpr std::int64_t kMaxRateLimit = 1'000'000;

class AdminService {
public:
    // `admin_emails`: ADMIN_EMAILS, normalised (lower-case); empty when unset.
    AdminService(
        store::Store& accounts,
        store::AdminStore& store,
        auth::AccessCache& access,
        auth::AuditLog& audit,
        std::vector<std::string> admin_emails,
        Clock clock = system_now
    );

    // At start-up: makes the ADMIN_EMAILS accounts admins or, when it is unset and no account is
    // an admin, the first account; logs and audits who became one. Errors: the store's.
    boost::asio::awaitable<Result<void>> establish_admins();

    // Errors (all): permission (403) when `who` is not an admin.
    boost::asio::awaitable<Result<store::Page<store::AdminUser>>> list_users(
        const Principal& who, std::int64_t offset, std::int64_t limit
    );

    // Applies `change` to account `id` and returns it. Errors: not_found (no such account),
    // unprocessable (nothing to change, an unknown role, a limit out of range, an admin disabling
    // or demoting their own account, demoting an account ADMIN_EMAILS names).
    boost::asio::awaitable<Result<store::AdminUser>> update_user(
        const Principal& who, std::string id, UserChange change
    );

    boost::asio::awaitable<Result<std::vector<store::ModelDayUsage>>> usage(
        const Principal& who,
        std::optional<std::string> user_id,
        std::optional<TimePoint> from,
        std::optional<TimePoint> to
    );

    boost::asio::awaitable<Result<store::Page<store::AuditEvent>>> audit(
        const Principal& who, store::AuditFilter filter, std::int64_t offset, std::int64_t limit
    );

private:
    boost::asio::awaitable<Result<void>> require_admin(const Principal& who);
    bool named_admin(const std::string& email) const;

    store::Store& accounts_;
    store::AdminStore& store_;
    auth::AccessCache& access_;
    auth::AuditLog& audit_;
    std::vector<std::string> admin_emails_;
    Clock clock_;
};

}  // namespace parley::admin
