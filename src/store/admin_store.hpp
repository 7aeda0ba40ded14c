// The storage boundary of admin and audit (issue 16), apart from the fat `Store`: accounts' roles,
// disabling and rate limits, the audit log, and usage over all users. Both backends implement it
// beside `Store`; `admin_store(store)` gives the one an opened store implements. A first step of
// splitting `Store` by aggregate: code that needs only this includes only this.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "store/models.hpp"

namespace parley::store {

class Store;

inline constexpr std::string_view kRoleAdmin = "admin";
inline constexpr std::string_view kRoleUser = "user";

// What an administrator controls about an account.
struct UserAccess {
    std::string user_id;
    std::string role{kRoleUser};  // "admin" or "user"
    std::optional<TimePoint> disabled_at{};
    std::optional<std::int64_t> rate_limit_per_minute{};     // standard routes; none: the default
    std::optional<std::int64_t> ai_rate_limit_per_minute{};  // routes that call a model
    // Budget (migration 0007): the cap in micro-dollars (none: no cap), the soft cap that only
    // warns, and the period ("daily", "weekly", "monthly", "total").
    std::optional<std::int64_t> max_budget_micros{};
    std::optional<std::int64_t> soft_budget_micros{};
    std::string budget_period{"total"};

    bool admin() const noexcept { return role == kRoleAdmin; }

    bool disabled() const noexcept { return disabled_at.has_value(); }
};

// An account as the admin list shows it (never its password hash).
struct AdminUser {
    std::string id;
    std::string email;
    TimePoint created_at{};
    UserAccess access{};
};

// One security event. `detail` is a JSON object that never holds a secret.
struct AuditEvent {
    std::string id;  // UUIDv7
    std::string kind;
    std::optional<std::string> user_id{};   // the account it concerns
    std::optional<std::string> actor_id{};  // who did it, when another account (an admin)
    std::optional<std::string> ip{};
    std::string detail = "{}";
    TimePoint created_at{};
};

struct AuditFilter {
    std::optional<std::string> kind{};
    std::optional<std::string> user_id{};  // events about this account or done by it
    std::optional<TimePoint> from{};       // created_at >= from
    std::optional<TimePoint> to{};         // created_at < to
};

// Usage of one model on one UTC day, over the users asked for.
struct ModelDayUsage {
    std::string day;  // YYYY-MM-DD
    std::string model;
    std::int64_t user_count = 0;
    std::int64_t message_count = 0;  // stored messages
    std::int64_t call_count = 0;     // usage records: calls that store no message
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    std::int64_t cost_micros = 0;
};

// Every method resumes the caller on its own executor; errors as `Store`'s (api when the
// database fails, overloaded when it cannot be reached).
class AdminStore {
public:
    virtual ~AdminStore() = default;

    // The account's access; nullopt when there is no such account.
    virtual boost::asio::awaitable<Result<std::optional<UserAccess>>> find_user_access(
        std::string user_id
    ) = 0;

    // Accounts oldest first (created_at, then id); `total` counts them all.
    virtual boost::asio::awaitable<Result<Page<AdminUser>>> list_users(
        std::int64_t offset, std::int64_t limit
    ) = 0;

    // Replaces the role, disabled_at, rate limits and budget of `access.user_id`; false when there
    // is no such account.
    virtual boost::asio::awaitable<Result<bool>> update_user_access(UserAccess access) = 0;

    // Makes the accounts with these emails (compared case-insensitively) admins; returns the ids
    // of those that were not admins before.
    virtual boost::asio::awaitable<Result<std::vector<std::string>>> promote_admins(
        std::vector<std::string> emails
    ) = 0;

    // When no account is an admin, makes the oldest one (created_at, then id) an admin and
    // returns its id; nullopt when there is an admin already or no account. Running it
    // concurrently promotes the same account.
    virtual boost::asio::awaitable<Result<std::optional<std::string>>> promote_first_user() = 0;

    // Appends the events in one transaction: all or none.
    virtual boost::asio::awaitable<Result<void>> insert_audit_events(std::vector<AuditEvent> events
    ) = 0;

    // Matching events newest first (created_at, then id, descending); `total` counts every match.
    virtual boost::asio::awaitable<Result<Page<AuditEvent>>> list_audit_events(
        AuditFilter filter, std::int64_t offset, std::int64_t limit
    ) = 0;

    // Messages with a model and usage records (compatible endpoints, titles, summaries) created
    // in [from, to), of one user or all, summed by UTC day and model, ordered by day then model.
    virtual boost::asio::awaitable<Result<std::vector<ModelDayUsage>>> usage_by_day_and_model(
        std::optional<std::string> user_id,
        std::optional<TimePoint> from,
        std::optional<TimePoint> to
    ) = 0;
};

// The AdminStore of a store open_store made (both backends implement it). Throws
// std::logic_error for any other Store.
AdminStore& admin_store(Store& store);

}  // namespace parley::store
