#include "admin/service.hpp"

#include <algorithm>

#include <boost/json/object.hpp>

#include "common/log.hpp"

namespace parley::admin {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

Error not_admin() {
    return make_error(ErrorType::permission, "this route is for administrators");
}

bj::value limit_json(const std::optional<std::int64_t>& limit) {
    return limit ? bj::value(*limit) : bj::value(nullptr);
}

// A rate limit change: nullopt (back to the default) or 1 to kMaxRateLimit.
Result<void> check_limit(
    const std::optional<std::optional<std::int64_t>>& change, std::string_view name
) {
    if (change && *change && (**change < 1 || **change > kMaxRateLimit)) {
        return make_error(
            ErrorType::unprocessable,
            "`" + std::string(name) + "` must be null or an integer from 1 to " +
                std::to_string(kMaxRateLimit)
        );
    }
    return {};
}

}  // namespace

AdminService::AdminService(
    store::Store& accounts,
    store::AdminStore& store,
    auth::AccessCache& access,
    auth::AuditLog& audit,
    std::vector<std::string> admin_emails,
    Clock clock
)
    : accounts_(accounts),
      store_(store),
      access_(access),
      audit_(audit),
      admin_emails_(std::move(admin_emails)),
      clock_(std::move(clock)) {}

bool AdminService::named_admin(const std::string& email) const {
    return std::find(admin_emails_.begin(), admin_emails_.end(), email) != admin_emails_.end();
}

asio::awaitable<Result<void>> AdminService::establish_admins() {
    std::vector<std::string> promoted;
    std::string_view reason;
    if (!admin_emails_.empty()) {
        auto named = co_await store_.promote_admins(admin_emails_);
        if (!named) {
            co_return named.error();
        }
        promoted = std::move(*named);
        reason = "ADMIN_EMAILS";
        log::info(
            "administrators are the accounts ADMIN_EMAILS names",
            {{"admin_emails", static_cast<std::int64_t>(admin_emails_.size())},
             {"promoted_now", static_cast<std::int64_t>(promoted.size())}}
        );
    } else {
        auto first = co_await store_.promote_first_user();
        if (!first) {
            co_return first.error();
        }
        reason = "first_account";
        if (*first) {
            promoted.push_back(**first);
        }
        log::info(
            "ADMIN_EMAILS is unset: the first account is the administrator (it is made one at "
            "start-up, or when it signs up)",
            {{"promoted_now", *first ? std::string_view(**first) : std::string_view("none")}}
        );
    }
    for (const auto& id : promoted) {
        access_.invalidate(id);
        auth::AuditRecord granted{
            auth::audit_kind::admin_granted, id, std::nullopt, std::nullopt, {{"reason", reason}}};
        auto audited = co_await audit_.commit(std::move(granted));
        if (!audited) {
            co_return audited.error();
        }
    }
    co_return Result<void>{};
}

asio::awaitable<Result<void>> AdminService::require_admin(const Principal& who) {
    auto access = co_await access_.get(who.user_id, /*fresh=*/true);
    if (!access) {
        co_return access.error();
    }
    if (!*access || !(*access)->admin() || (*access)->disabled()) {
        co_return not_admin();
    }
    co_return Result<void>{};
}

asio::awaitable<Result<store::Page<store::AdminUser>>> AdminService::list_users(
    const Principal& who, std::int64_t offset, std::int64_t limit
) {
    if (auto ok = co_await require_admin(who); !ok) {
        co_return ok.error();
    }
    co_return co_await store_.list_users(offset, limit);
}

asio::awaitable<Result<store::AdminUser>> AdminService::update_user(
    const Principal& who, std::string id, UserChange change
) {
    if (auto ok = co_await require_admin(who); !ok) {
        co_return ok.error();
    }
    if (!change.disabled && !change.role && !change.rate_limit_per_minute &&
        !change.ai_rate_limit_per_minute && !change.budget.any()) {
        co_return make_error(
            ErrorType::unprocessable,
            "give at least one of disabled, role, rate_limit_per_minute, ai_rate_limit_per_minute, "
            "max_budget_usd, soft_budget_usd, budget_period"
        );
    }
    if (change.role && *change.role != store::kRoleAdmin && *change.role != store::kRoleUser) {
        co_return make_error(ErrorType::unprocessable, "`role` must be admin or user");
    }
    if (auto ok = check_limit(change.rate_limit_per_minute, "rate_limit_per_minute"); !ok) {
        co_return ok.error();
    }
    if (auto ok = check_limit(change.ai_rate_limit_per_minute, "ai_rate_limit_per_minute"); !ok) {
        co_return ok.error();
    }
    auto user = co_await accounts_.find_user(id);
    if (!user) {
        co_return user.error();
    }
    auto current = co_await store_.find_user_access(id);
    if (!current) {
        co_return current.error();
    }
    if (!*user || !*current) {
        co_return make_error(ErrorType::not_found, "no such user");
    }
    store::UserAccess next = **current;
    const bool demote = change.role && *change.role == store::kRoleUser && next.admin();
    if (id == who.user_id && ((change.disabled && *change.disabled) || demote)) {
        // The last admin could otherwise lock everyone out.
        co_return make_error(
            ErrorType::unprocessable, "an administrator cannot disable or demote their own account"
        );
    }
    if (demote && named_admin((*user)->email)) {
        co_return make_error(
            ErrorType::unprocessable,
            "this account is named in ADMIN_EMAILS: remove it there to demote it"
        );
    }
    bj::object changes;
    if (change.disabled) {
        if (*change.disabled && !next.disabled_at) {
            next.disabled_at = clock_();
        } else if (!*change.disabled) {
            next.disabled_at.reset();
        }
        changes["disabled"] = *change.disabled;
    }
    if (change.role) {
        next.role = *change.role;
        changes["role"] = *change.role;
    }
    if (change.rate_limit_per_minute) {
        next.rate_limit_per_minute = *change.rate_limit_per_minute;
        changes["rate_limit_per_minute"] = limit_json(*change.rate_limit_per_minute);
    }
    if (change.ai_rate_limit_per_minute) {
        next.ai_rate_limit_per_minute = *change.ai_rate_limit_per_minute;
        changes["ai_rate_limit_per_minute"] = limit_json(*change.ai_rate_limit_per_minute);
    }
    if (change.budget.any()) {
        change.budget.apply_to(next.max_budget_micros, next.soft_budget_micros, next.budget_period);
        if (change.budget.max_budget_micros) {
            changes["max_budget_micros"] = limit_json(*change.budget.max_budget_micros);
        }
        if (change.budget.soft_budget_micros) {
            changes["soft_budget_micros"] = limit_json(*change.budget.soft_budget_micros);
        }
        if (change.budget.budget_period) {
            changes["budget_period"] = *change.budget.budget_period;
        }
    }
    auto updated = co_await store_.update_user_access(next);
    if (!updated) {
        co_return updated.error();
    }
    if (!*updated) {
        co_return make_error(ErrorType::not_found, "no such user");
    }
    // Seen at once by this instance's gate; by the others within ACCOUNT_CACHE_TTL_MS.
    access_.invalidate(id);
    auth::AuditRecord event{
        auth::audit_kind::admin_user_updated,
        id,
        who.user_id,
        std::nullopt,
        {{"changes", std::move(changes)}}};
    auto audited = co_await audit_.commit(std::move(event));
    if (!audited) {
        co_return audited.error();
    }
    log::info("account changed by an administrator", {{"user_id", id}, {"admin_id", who.user_id}});
    co_return store::AdminUser{id, (*user)->email, (*user)->created_at, std::move(next)};
}

asio::awaitable<Result<std::vector<store::ModelDayUsage>>> AdminService::usage(
    const Principal& who,
    std::optional<std::string> user_id,
    std::optional<TimePoint> from,
    std::optional<TimePoint> to
) {
    if (auto ok = co_await require_admin(who); !ok) {
        co_return ok.error();
    }
    co_return co_await store_.usage_by_day_and_model(
        std::move(user_id), std::move(from), std::move(to)
    );
}

asio::awaitable<Result<store::Page<store::AuditEvent>>> AdminService::audit(
    const Principal& who, store::AuditFilter filter, std::int64_t offset, std::int64_t limit
) {
    if (auto ok = co_await require_admin(who); !ok) {
        co_return ok.error();
    }
    co_return co_await store_.list_audit_events(std::move(filter), offset, limit);
}

}  // namespace parley::admin
