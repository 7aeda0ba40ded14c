// Budgets on PostgreSQL (issue 16), the twin of sqlite/sqlite_budget.cpp. A reservation locks its
// subjects' spend rows (SELECT … FOR UPDATE, in the charges' order: the account before its key,
// the same order everywhere, so two reservations cannot deadlock), checks them all, then reserves:
// concurrent reservations from any number of instances queue on the row locks.
#include "store/postgres/pg_store_impl.hpp"

namespace parley::store::postgres {

namespace asio = boost::asio;

namespace {

const std::string kLimitColumns = "max_budget_micros, soft_budget_micros, budget_period";

asio::awaitable<std::optional<BudgetLimit>> find_limit(
    PgConnection& c, const std::string& table, const std::string& id
) {
    const auto r = co_await c.query(
        "SELECT " + kLimitColumns + " FROM " + table + " WHERE id = $1", Params().text(id)
    );
    if (r.rows() == 0) {
        co_return std::nullopt;
    }
    BudgetLimit l;
    l.max_micros = r.optional_integer(0, 0);
    l.soft_micros = r.optional_integer(0, 1);
    l.period = r.text(0, 2);
    co_return l;
}

// The subject's counts in the period, the row locked until the transaction ends when `lock`.
asio::awaitable<BudgetSpend> read_spend(
    PgConnection& c, const std::string& subject, TimePoint period_start, bool lock
) {
    const auto r = co_await c.query(
        std::string("SELECT spent, reserved FROM budget_spend WHERE subject = $1 AND "
                    "period_start = $2"
        ) + (lock ? " FOR UPDATE" : ""),
        Params().text(subject).time(period_start)
    );
    BudgetSpend s;
    if (r.rows() > 0) {
        s.spent = r.integer(0, 0);
        s.reserved = r.integer(0, 1);
    }
    co_return s;
}

asio::awaitable<void> ensure_row(PgConnection& c, const BudgetCharge& charge) {
    co_await c.query(
        "INSERT INTO budget_spend(subject, period_start) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        Params().text(charge.subject).time(charge.period_start)
    );
}

asio::awaitable<Result<bool>> set_limit(
    PgConnection& c, const std::string& sql, const std::string& id, const BudgetLimit& l
) {
    const auto r = co_await c.query(
        sql,
        Params()
            .optional_integer(l.max_micros)
            .optional_integer(l.soft_micros)
            .text(l.period)
            .text(id)
    );
    co_return r.affected() == 1;
}

}  // namespace

asio::awaitable<Result<std::optional<BudgetLimit>>> PgStore::find_user_budget(std::string user_id) {
    co_return co_await run<std::optional<BudgetLimit>>(
        [](PgConnection& c,
           const std::string& id) -> asio::awaitable<Result<std::optional<BudgetLimit>>> {
            co_return co_await find_limit(c, "users", id);
        },
        user_id
    );
}

asio::awaitable<Result<std::optional<BudgetLimit>>> PgStore::find_key_budget(std::string key_id) {
    co_return co_await run<std::optional<BudgetLimit>>(
        [](PgConnection& c,
           const std::string& id) -> asio::awaitable<Result<std::optional<BudgetLimit>>> {
            co_return co_await find_limit(c, "api_keys", id);
        },
        key_id
    );
}

asio::awaitable<Result<bool>> PgStore::set_key_budget(std::string key_id, BudgetLimit limit) {
    co_return co_await run<bool>(
        [](PgConnection& c, const std::string& id, const BudgetLimit& l
        ) -> asio::awaitable<Result<bool>> {
            co_return co_await set_limit(
                c,
                "UPDATE api_keys SET max_budget_micros = $1, soft_budget_micros = $2, "
                "budget_period = $3 WHERE id = $4 AND revoked_at IS NULL",
                id,
                l
            );
        },
        key_id,
        limit
    );
}

asio::awaitable<Result<BudgetReservation>> PgStore::reserve_budget(
    std::vector<BudgetCharge> charges, TimePoint now
) {
    co_return co_await run<BudgetReservation>(
        [](PgConnection& c, const std::vector<BudgetCharge>& list, const TimePoint& at
        ) -> asio::awaitable<Result<BudgetReservation>> {
            BudgetReservation out;
            co_await c.exec("BEGIN");
            for (std::size_t i = 0; i < list.size(); ++i) {
                const auto& charge = list[i];
                co_await ensure_row(c, charge);
                const auto spend =
                    co_await read_spend(c, charge.subject, charge.period_start, true);
                if (charge.limit && spend.spent + spend.reserved + charge.amount > *charge.limit) {
                    out.refused = i;
                    out.spend = spend;
                    const auto marked = co_await c.query(
                        "UPDATE budget_spend SET exceeded_at = $1 WHERE subject = $2 AND "
                        "period_start = $3 AND exceeded_at IS NULL",
                        Params().time(at).text(charge.subject).time(charge.period_start)
                    );
                    out.first = marked.affected() == 1;
                    co_await c.exec("COMMIT");
                    co_return out;
                }
            }
            for (const auto& charge : list) {
                co_await c.query(
                    "UPDATE budget_spend SET reserved = reserved + $1 WHERE subject = $2 AND "
                    "period_start = $3",
                    Params().integer(charge.amount).text(charge.subject).time(charge.period_start)
                );
            }
            co_await c.exec("COMMIT");
            co_return out;
        },
        charges,
        now
    );
}

asio::awaitable<Result<std::vector<BudgetSpend>>> PgStore::settle_budget(
    std::vector<BudgetCharge> charges, std::int64_t cost
) {
    co_return co_await run<std::vector<BudgetSpend>>(
        [](PgConnection& c, const std::vector<BudgetCharge>& list, const std::int64_t& amount
        ) -> asio::awaitable<Result<std::vector<BudgetSpend>>> {
            // One upsert per charge: the row made (reserved 0, spent 0) or found, then settled, in
            // one statement. A single charge (the usual one: an account, or a key without an
            // account cap) is then one round trip with no BEGIN/COMMIT; several stay one
            // transaction, their rows locked in the charges' order, as reserve_budget locks them.
            const bool several = list.size() > 1;
            std::vector<BudgetSpend> after;
            if (several) {
                co_await c.exec("BEGIN");
            }
            for (const auto& charge : list) {
                const auto r = co_await c.query(
                    "INSERT INTO budget_spend AS b(subject, period_start, spent, reserved) VALUES "
                    "($3, $4, $2, GREATEST(0 - $1::bigint, 0)) ON CONFLICT (subject, period_start) "
                    "DO UPDATE SET reserved = GREATEST(b.reserved - $1, 0), spent = b.spent + $2 "
                    "RETURNING spent, reserved",
                    Params()
                        .integer(charge.amount)
                        .integer(amount)
                        .text(charge.subject)
                        .time(charge.period_start)
                );
                after.push_back(BudgetSpend{r.integer(0, 0), r.integer(0, 1)});
            }
            if (several) {
                co_await c.exec("COMMIT");
            }
            co_return after;
        },
        charges,
        cost
    );
}

asio::awaitable<Result<BudgetSpend>> PgStore::budget_spend(
    std::string subject, TimePoint period_start
) {
    co_return co_await run<BudgetSpend>(
        [](PgConnection& c, const std::string& s, const TimePoint& start
        ) -> asio::awaitable<Result<BudgetSpend>> {
            co_return co_await read_spend(c, s, start, false);
        },
        subject,
        period_start
    );
}

}  // namespace parley::store::postgres
