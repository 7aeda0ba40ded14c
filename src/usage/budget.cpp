#include "usage/budget.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/object.hpp>

#include "auth/audit_log.hpp"
#include "common/log.hpp"

namespace parley::usage {

namespace asio = boost::asio;
namespace chr = std::chrono;

namespace {

constexpr std::string_view kUserPrefix = "user:";
constexpr std::string_view kKeyPrefix = "key:";

BudgetPeriod period_of(const store::BudgetLimit& limit) {
    return parse_budget_period(limit.period).value_or(BudgetPeriod::total);
}

store::BudgetCharge charge_for(
    std::string_view prefix,
    const std::string& id,
    const store::BudgetLimit& limit,
    TimePoint now,
    std::int64_t amount
) {
    store::BudgetCharge c;
    c.subject = std::string(prefix) + id;
    c.period_start = period_start(period_of(limit), now);
    c.limit = limit.max_micros;
    c.amount = amount;
    return c;
}

bool is_key(const store::BudgetCharge& c) {
    return c.subject.starts_with(kKeyPrefix);
}

}  // namespace

std::optional<BudgetPeriod> parse_budget_period(std::string_view name) noexcept {
    if (name == "daily") {
        return BudgetPeriod::daily;
    }
    if (name == "weekly") {
        return BudgetPeriod::weekly;
    }
    if (name == "monthly") {
        return BudgetPeriod::monthly;
    }
    if (name == "total") {
        return BudgetPeriod::total;
    }
    return std::nullopt;
}

std::string_view budget_period_name(BudgetPeriod period) noexcept {
    switch (period) {
        case BudgetPeriod::daily:
            return "daily";
        case BudgetPeriod::weekly:
            return "weekly";
        case BudgetPeriod::monthly:
            return "monthly";
        case BudgetPeriod::total:
            return "total";
    }
    return "total";
}

TimePoint period_start(BudgetPeriod period, TimePoint now) {
    const auto day = chr::floor<chr::days>(now);
    switch (period) {
        case BudgetPeriod::daily:
            return day;
        case BudgetPeriod::weekly: {
            // ISO weeks start on Monday: iso_encoding() is 1 (Monday) to 7 (Sunday).
            const chr::weekday wd{day};
            return day - chr::days(wd.iso_encoding() - 1);
        }
        case BudgetPeriod::monthly: {
            const chr::year_month_day ymd{day};
            return chr::sys_days{ymd.year() / ymd.month() / 1};
        }
        case BudgetPeriod::total:
            break;
    }
    return TimePoint{};
}

std::optional<TimePoint> period_reset(BudgetPeriod period, TimePoint now) {
    const auto start = period_start(period, now);
    switch (period) {
        case BudgetPeriod::daily:
            return start + chr::days(1);
        case BudgetPeriod::weekly:
            return start + chr::days(7);
        case BudgetPeriod::monthly: {
            const chr::year_month_day ymd{chr::floor<chr::days>(start)};
            const auto next = chr::year_month{ymd.year(), ymd.month()} + chr::months(1);
            return chr::sys_days{next / 1};
        }
        case BudgetPeriod::total:
            break;
    }
    return std::nullopt;
}

std::string micros_to_usd_text(std::int64_t micros) {
    std::string digits = std::to_string(micros % 1'000'000);
    digits.insert(0, 6 - digits.size(), '0');
    return std::to_string(micros / 1'000'000) + "." + digits;
}

// --- BudgetHold

BudgetHold::BudgetHold(BudgetHold&& other) noexcept
    : budgets_(std::exchange(other.budgets_, nullptr)),
      executor_(std::move(other.executor_)),
      charges_(std::move(other.charges_)),
      soft_(std::move(other.soft_)),
      who_(std::move(other.who_)) {
    other.charges_.clear();
}

BudgetHold& BudgetHold::operator=(BudgetHold&& other) noexcept {
    if (this != &other) {
        BudgetHold old(std::move(*this));  // releases what this held
        budgets_ = std::exchange(other.budgets_, nullptr);
        executor_ = std::move(other.executor_);
        charges_ = std::move(other.charges_);
        other.charges_.clear();
        soft_ = std::move(other.soft_);
        who_ = std::move(other.who_);
    }
    return *this;
}

BudgetHold::~BudgetHold() {
    if (budgets_ == nullptr || charges_.empty() || !executor_) {
        return;
    }
    // Not settled: the call ended by an exception. Release the reservation, billing nothing.
    asio::co_spawn(
        executor_,
        budgets_->settle_charges(std::move(who_), std::move(charges_), std::move(soft_), 0),
        [](const std::exception_ptr& e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    log::error("releasing a budget reservation failed", {{"what", x.what()}});
                }
            }
        }
    );
}

std::int64_t BudgetHold::reserved() const noexcept {
    return charges_.empty() ? 0 : charges_.front().amount;
}

// --- Budgets

Budgets::Budgets(
    store::BudgetStore& store,
    auth::AuditLog* audit,
    std::function<void()> on_soft_limit,
    Clock clock
)
    : store_(store),
      audit_(audit),
      on_soft_limit_(std::move(on_soft_limit)),
      clock_(std::move(clock)) {}

asio::awaitable<Result<BudgetHold>> Budgets::reserve(Principal who, std::int64_t estimate_micros) {
    const auto now = clock_();
    auto user = co_await store_.find_user_budget(who.user_id);
    if (!user) {
        co_return user.error();
    }
    if (!*user) {
        co_return make_error(ErrorType::not_found, "the account no longer exists");
    }
    BudgetHold hold;
    hold.charges_.push_back(charge_for(kUserPrefix, who.user_id, **user, now, estimate_micros));
    hold.soft_.push_back((*user)->soft_micros);
    std::vector<BudgetPeriod> periods{period_of(**user)};
    if (!who.api_key_id.empty()) {
        auto key = co_await store_.find_key_budget(who.api_key_id);
        if (!key) {
            hold.charges_.clear();
            co_return key.error();
        }
        if (!*key) {
            hold.charges_.clear();
            co_return make_error(ErrorType::not_found, "the API key no longer exists");
        }
        hold.charges_.push_back(charge_for(kKeyPrefix, who.api_key_id, **key, now, estimate_micros)
        );
        hold.soft_.push_back((*key)->soft_micros);
        periods.push_back(period_of(**key));
    }
    // Nothing capped (the usual case): nothing can be refused, so nothing is reserved and the call
    // costs no transaction before it starts; settle() still counts its spend afterwards.
    const bool capped = std::any_of(hold.charges_.begin(), hold.charges_.end(), [](const auto& c) {
        return c.limit.has_value();
    });
    if (!capped) {
        for (auto& charge : hold.charges_) {
            charge.amount = 0;
        }
        hold.budgets_ = this;
        hold.executor_ = co_await asio::this_coro::executor;
        hold.who_ = std::move(who);
        co_return std::move(hold);
    }
    auto reserved = co_await store_.reserve_budget(hold.charges_, now);
    if (!reserved || reserved->refused) {
        std::vector<store::BudgetCharge> charges = std::move(hold.charges_);
        hold.charges_.clear();  // nothing is held: the destructor must not release anything
        if (!reserved) {
            co_return reserved.error();
        }
        const std::size_t i = *reserved->refused;
        const auto& charge = charges[i];
        const BudgetPeriod period = periods[i];
        if (reserved->first) {
            audit_refusal(who, charge, reserved->spend, period);
        }
        const std::string whose = is_key(charge) ? "this API key's" : "this account's";
        std::string message = "budget exceeded: " + whose + " " +
                              std::string(budget_period_name(period)) + " budget of " +
                              micros_to_usd_text(charge.limit.value_or(0)) + " USD is used up (" +
                              micros_to_usd_text(reserved->spend.spent) + " USD spent";
        if (reserved->spend.reserved > 0) {
            message += ", " + micros_to_usd_text(reserved->spend.reserved) +
                       " USD held by calls "
                       "in progress";
        }
        message += ")";
        Error e = make_error(ErrorType::budget_exceeded, {});
        if (const auto reset = period_reset(period, now)) {
            const auto wait = chr::ceil<chr::seconds>(*reset - now).count();
            e.retry_after_s = static_cast<int>(std::max<std::int64_t>(wait, 1));
            e.reset_at = to_iso8601(*reset);
            message += "; it resets at " + *e.reset_at;
        } else {
            message += "; it does not reset (period total): an administrator can raise it";
        }
        e.message = std::move(message);
        co_return e;
    }
    hold.budgets_ = this;
    hold.executor_ = co_await asio::this_coro::executor;
    hold.who_ = std::move(who);
    co_return std::move(hold);
}

asio::awaitable<void> Budgets::settle(BudgetHold hold, std::int64_t cost_micros) {
    auto charges = std::move(hold.charges_);
    hold.charges_.clear();
    // Nothing held (no cap applied) and nothing to bill (a free model): settling would change no
    // count and cross no soft cap, so it costs no write transaction (issue 14).
    const bool held =
        std::any_of(charges.begin(), charges.end(), [](const auto& c) { return c.amount != 0; });
    if (charges.empty() || (!held && cost_micros == 0)) {
        co_return;
    }
    co_await settle_charges(
        std::move(hold.who_), std::move(charges), std::move(hold.soft_), cost_micros
    );
}

asio::awaitable<void> Budgets::settle_charges(
    Principal who,
    std::vector<store::BudgetCharge> charges,
    std::vector<std::optional<std::int64_t>> soft,
    std::int64_t cost_micros
) {
    auto after = co_await store_.settle_budget(charges, cost_micros);
    if (!after) {
        log::error(
            "could not settle a budget reservation",
            {{"user_id", who.user_id}, {"detail", after.error().detail}}
        );
        co_return;
    }
    for (std::size_t i = 0; i < charges.size() && i < after->size() && i < soft.size(); ++i) {
        const auto spent = (*after)[i].spent;
        if (soft[i] && cost_micros > 0 && spent - cost_micros < *soft[i] && spent >= *soft[i]) {
            log::warn(
                "soft budget crossed",
                {{"subject", charges[i].subject},
                 {"soft_budget_micros", std::to_string(*soft[i])},
                 {"spent_micros", std::to_string(spent)}}
            );
            if (on_soft_limit_) {
                on_soft_limit_();
            }
        }
    }
}

void Budgets::audit_refusal(
    const Principal& who,
    const store::BudgetCharge& charge,
    const store::BudgetSpend& spend,
    BudgetPeriod period
) {
    if (audit_ == nullptr) {
        return;
    }
    boost::json::object detail{
        {"scope", is_key(charge) ? "api_key" : "user"},
        {"period", budget_period_name(period)},
        {"period_start", to_iso8601(charge.period_start)},
        {"max_budget_micros", charge.limit.value_or(0)},
        {"spent_micros", spend.spent},
        {"reserved_micros", spend.reserved},
    };
    if (!who.api_key_id.empty()) {
        detail["api_key_id"] = who.api_key_id;
    }
    audit_->record(auth::AuditRecord{
        auth::audit_kind::budget_exceeded,
        who.user_id,
        std::nullopt,
        std::nullopt,
        std::move(detail)});
}

asio::awaitable<Result<std::vector<BudgetView>>> Budgets::status(Principal who) {
    const auto now = clock_();
    std::vector<std::pair<std::string, std::string>> subjects{{"user", who.user_id}};
    if (!who.api_key_id.empty()) {
        subjects.emplace_back("api_key", who.api_key_id);
    }
    std::vector<BudgetView> views;
    for (const auto& [scope, id] : subjects) {
        const bool key = scope == "api_key";
        // Not `?:` around co_await: g++ 12 miscompiles it (STYLE).
        Result<std::optional<store::BudgetLimit>> limit = std::optional<store::BudgetLimit>{};
        if (key) {
            limit = co_await store_.find_key_budget(id);
        } else {
            limit = co_await store_.find_user_budget(id);
        }
        if (!limit) {
            co_return limit.error();
        }
        if (!*limit) {
            co_return make_error(ErrorType::not_found, "the account or API key no longer exists");
        }
        BudgetView v;
        v.scope = scope;
        v.id = id;
        v.limit = std::move(**limit);
        v.period = period_of(v.limit);
        v.period_start = period_start(v.period, now);
        v.reset_at = period_reset(v.period, now);
        auto spend = co_await store_.budget_spend(
            std::string(key ? kKeyPrefix : kUserPrefix) + id, v.period_start
        );
        if (!spend) {
            co_return spend.error();
        }
        v.spend = *spend;
        views.push_back(std::move(v));
    }
    co_return views;
}

}  // namespace parley::usage
