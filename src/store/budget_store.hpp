// The storage boundary of budgets (issue 16), beside `Store` as AdminStore is: each account's and
// API key's spending cap, and the spend and reservations of each subject per period (table
// budget_spend, migration 0007). The database holds the counts so that every instance shares
// them; a reservation is atomic there (SQLite: one writer under BEGIN IMMEDIATE; PostgreSQL: the
// spend rows locked in a fixed order), so concurrent calls can never reserve past a cap.
// `budget_store(store)` gives the one an opened store implements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "common/time.hpp"

namespace parley::store {

class Store;

// An account's or a key's cap. `period`: "daily", "weekly", "monthly" or "total".
struct BudgetLimit {
    std::optional<std::int64_t> max_micros{};   // none: no cap
    std::optional<std::int64_t> soft_micros{};  // none: no warning
    std::string period = "total";
};

// One subject's part of a reservation: `amount` held against `limit` in the period that starts at
// `period_start`. `subject` is "user:<id>" or "key:<id>"; `limit` none: counted, never refused.
struct BudgetCharge {
    std::string subject;
    TimePoint period_start{};
    std::optional<std::int64_t> limit{};
    std::int64_t amount = 0;
};

// A subject's counts in one period.
struct BudgetSpend {
    std::int64_t spent = 0;
    std::int64_t reserved = 0;
};

// What reserve() did: everything reserved (`refused` none), or nothing, because the charge at
// index `refused` would have passed its limit (`spend`: that subject's counts then; `first`: the
// first refusal of that subject in that period, for a once-per-period audit event).
struct BudgetReservation {
    std::optional<std::size_t> refused{};
    BudgetSpend spend{};
    bool first = false;
};

// Every method resumes the caller on its own executor; errors as `Store`'s (api when the database
// fails, overloaded when it cannot be reached).
class BudgetStore {
public:
    virtual ~BudgetStore() = default;

    // The account's or key's cap; nullopt when there is no such account or key.
    virtual boost::asio::awaitable<Result<std::optional<BudgetLimit>>> find_user_budget(
        std::string user_id
    ) = 0;
    virtual boost::asio::awaitable<Result<std::optional<BudgetLimit>>> find_key_budget(
        std::string key_id
    ) = 0;

    // Replaces the key's cap; false when there is no such unrevoked key. (An account's cap is
    // part of its AdminStore::UserAccess.)
    virtual boost::asio::awaitable<Result<bool>> set_key_budget(
        std::string key_id, BudgetLimit limit
    ) = 0;

    // Reserves every charge's amount, all or none, in one transaction: a charge is refused when
    // its subject's spent + reserved + amount would pass its limit. `now` stamps a first refusal.
    virtual boost::asio::awaitable<Result<BudgetReservation>> reserve_budget(
        std::vector<BudgetCharge> charges, TimePoint now
    ) = 0;

    // Releases each charge's amount and adds `cost` to its subject's spend in its period; returns
    // each subject's counts after, in the charges' order.
    virtual boost::asio::awaitable<Result<std::vector<BudgetSpend>>> settle_budget(
        std::vector<BudgetCharge> charges, std::int64_t cost
    ) = 0;

    // The subject's counts in the period that starts at `period_start` (zeros when none).
    virtual boost::asio::awaitable<Result<BudgetSpend>> budget_spend(
        std::string subject, TimePoint period_start
    ) = 0;
};

// The BudgetStore of a store open_store made (both backends implement it). Throws
// std::logic_error for any other Store.
BudgetStore& budget_store(Store& store);

}  // namespace parley::store
