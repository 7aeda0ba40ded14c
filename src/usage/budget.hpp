// Budgets (issue 16): spending caps per account and per API key over a calendar UTC period, checked
// before every model call. A call reserves its estimated cost in the database before it asks a
// model (store::BudgetStore: all instances share the counts, and concurrent calls can never
// reserve past a cap), and settles after with the exact cost. Over a cap, the call is refused with
// 429 budget_exceeded_error (Retry-After: seconds to the period's reset); the first refusal of a
// subject in a period writes a `budget_exceeded` audit event. A soft cap only warns (a log line and
// a metric) when the spend crosses it. No HTTP types here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "common/principal.hpp"
#include "common/time.hpp"
#include "store/budget_store.hpp"

namespace parley::auth {
class AuditLog;
}

namespace parley::usage {

enum class BudgetPeriod { daily, weekly, monthly, total };

// "daily", "weekly", "monthly", "total"; nullopt for anything else.
std::optional<BudgetPeriod> parse_budget_period(std::string_view name) noexcept;
std::string_view budget_period_name(BudgetPeriod period) noexcept;

// The start of the calendar UTC period that holds `now`: midnight, Monday's midnight (ISO weeks),
// the first of the month; the epoch for `total`.
TimePoint period_start(BudgetPeriod period, TimePoint now);

// When that period ends (the next one starts); nullopt for `total`, which never resets.
std::optional<TimePoint> period_reset(BudgetPeriod period, TimePoint now);

// Micro-dollars as USD for a message: "0.000125".
std::string micros_to_usd_text(std::int64_t micros);

class Budgets;

// The reservation of one model call. Settle it with the call's exact cost (Budgets::settle); one
// destroyed unsettled (the call's coroutine ended by an exception) releases its reservation in
// the background, billing nothing, so that a failure never holds a budget forever. Move-only.
class BudgetHold {
public:
    BudgetHold() = default;
    BudgetHold(BudgetHold&& other) noexcept;
    BudgetHold& operator=(BudgetHold&& other) noexcept;
    BudgetHold(const BudgetHold&) = delete;
    BudgetHold& operator=(const BudgetHold&) = delete;
    ~BudgetHold();

    // The amount reserved for the call (0: nothing held).
    std::int64_t reserved() const noexcept;

private:
    friend class Budgets;
    Budgets* budgets_ = nullptr;
    boost::asio::any_io_executor executor_;
    std::vector<store::BudgetCharge> charges_;
    std::vector<std::optional<std::int64_t>> soft_;  // each charge's soft cap
    Principal who_;
};

// A subject's budget as GET /api/v1/usage/budget shows it.
struct BudgetView {
    std::string scope;  // "user" or "api_key"
    std::string id;
    store::BudgetLimit limit;
    BudgetPeriod period = BudgetPeriod::total;
    TimePoint period_start{};
    std::optional<TimePoint> reset_at{};
    store::BudgetSpend spend{};
};

class Budgets {
public:
    // `audit` (optional) receives the budget_exceeded events; `on_soft_limit` (optional) is called
    // each time a spend crosses a soft cap (the metric).
    Budgets(
        store::BudgetStore& store,
        auth::AuditLog* audit,
        std::function<void()> on_soft_limit = {},
        Clock clock = system_now
    );

    // Reserves `estimate_micros` against the caller's account and, when it authenticated with one,
    // its API key. Errors: budget_exceeded (429: the message names the cap and when it resets;
    // retry_after_s and reset_at unless the period is `total`), not_found when the account or
    // key is gone, and the store's (api, overloaded). Resumes on the caller's executor.
    boost::asio::awaitable<Result<BudgetHold>> reserve(Principal who, std::int64_t estimate_micros);

    // Releases the hold and adds `cost_micros` to the spend; warns when a soft cap is crossed.
    // Never fails: a store error is logged (the answer has been given by then).
    boost::asio::awaitable<void> settle(BudgetHold hold, std::int64_t cost_micros);

    // The caller's account budget and, with an API key, the key's. Errors: not_found (the account
    // or key is gone) and the store's.
    boost::asio::awaitable<Result<std::vector<BudgetView>>> status(Principal who);

private:
    friend class BudgetHold;
    boost::asio::awaitable<void> settle_charges(
        Principal who,
        std::vector<store::BudgetCharge> charges,
        std::vector<std::optional<std::int64_t>> soft,
        std::int64_t cost_micros
    );
    void audit_refusal(
        const Principal& who,
        const store::BudgetCharge& charge,
        const store::BudgetSpend& spend,
        BudgetPeriod period
    );

    store::BudgetStore& store_;
    auth::AuditLog* audit_;
    std::function<void()> on_soft_limit_;
    Clock clock_;
};

}  // namespace parley::usage
