// Budgets on SQLite (issue 16): caps of accounts and keys, and the spend and reservations per
// subject and period. A reservation runs under BEGIN IMMEDIATE: SQLite's single writer orders
// every reservation of the database, across connections and processes.
#include "store/sqlite/sqlite_store_impl.hpp"

namespace parley::store::sqlite {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kLimitColumns = "max_budget_micros, soft_budget_micros, budget_period";

std::optional<BudgetLimit> find_limit(
    Connection& c, std::string_view table, const std::string& id
) {
    auto st = c.prepare(
        "SELECT " + std::string(kLimitColumns) + " FROM " + std::string(table) + " WHERE id = ?"
    );
    st.bind(1, id);
    if (!st.step()) {
        return std::nullopt;
    }
    BudgetLimit l;
    l.max_micros = column_optional_int(st, 0);
    l.soft_micros = column_optional_int(st, 1);
    l.period = st.column_text(2);
    return l;
}

// The subject's counts in the period (zeros when it has no row yet).
BudgetSpend read_spend(Connection& c, const std::string& subject, TimePoint period_start) {
    auto st =
        c.prepare("SELECT spent, reserved FROM budget_spend WHERE subject = ? AND period_start = ?"
        );
    st.bind(1, subject).bind(2, to_iso8601(period_start));
    BudgetSpend s;
    if (st.step()) {
        s.spent = st.column_int(0);
        s.reserved = st.column_int(1);
    }
    return s;
}

void ensure_row(Connection& c, const BudgetCharge& charge) {
    auto st = c.prepare(
        "INSERT INTO budget_spend(subject, period_start) VALUES (?, ?) ON CONFLICT DO NOTHING"
    );
    st.bind(1, charge.subject).bind(2, to_iso8601(charge.period_start));
    st.step();
}

}  // namespace

asio::awaitable<Result<std::optional<BudgetLimit>>> SqliteStore::find_user_budget(
    std::string user_id
) {
    // A row by key, read at once on the calling thread (issue 14: asked before every model call).
    co_return read<std::optional<BudgetLimit>>(
        [&user_id](Connection& c) -> Result<std::optional<BudgetLimit>> {
            return find_limit(c, "users", user_id);
        }
    );
}

asio::awaitable<Result<std::optional<BudgetLimit>>> SqliteStore::find_key_budget(std::string key_id
) {
    co_return read<std::optional<BudgetLimit>>(
        [&key_id](Connection& c) -> Result<std::optional<BudgetLimit>> {
            return find_limit(c, "api_keys", key_id);
        }
    );
}

asio::awaitable<Result<bool>> SqliteStore::set_key_budget(std::string key_id, BudgetLimit limit) {
    co_return co_await run<bool>([&](Connection& c) -> Result<bool> {
        auto st = c.prepare(
            "UPDATE api_keys SET max_budget_micros = ?, soft_budget_micros = ?, budget_period = ? "
            "WHERE id = ? AND revoked_at IS NULL"
        );
        bind_optional(st, 1, limit.max_micros);
        bind_optional(st, 2, limit.soft_micros);
        st.bind(3, limit.period).bind(4, key_id);
        st.step();
        return sqlite3_changes(c.handle()) == 1;
    });
}

asio::awaitable<Result<BudgetReservation>> SqliteStore::reserve_budget(
    std::vector<BudgetCharge> charges, TimePoint now
) {
    co_return co_await run<BudgetReservation>([&](Connection& c) -> Result<BudgetReservation> {
        return in_transaction(c, [&] {
            // Check every charge first, then reserve: all or none, inside the one writer.
            BudgetReservation out;
            for (std::size_t i = 0; i < charges.size(); ++i) {
                const auto& charge = charges[i];
                ensure_row(c, charge);
                const auto spend = read_spend(c, charge.subject, charge.period_start);
                if (charge.limit && spend.spent + spend.reserved + charge.amount > *charge.limit) {
                    out.refused = i;
                    out.spend = spend;
                    auto mark = c.prepare(
                        "UPDATE budget_spend SET exceeded_at = ? WHERE subject = ? AND "
                        "period_start = ? AND exceeded_at IS NULL"
                    );
                    mark.bind(1, to_iso8601(now)).bind(2, charge.subject);
                    mark.bind(3, to_iso8601(charge.period_start));
                    mark.step();
                    out.first = sqlite3_changes(c.handle()) == 1;
                    return out;
                }
            }
            for (const auto& charge : charges) {
                auto st = c.prepare(
                    "UPDATE budget_spend SET reserved = reserved + ? WHERE subject = ? AND "
                    "period_start = ?"
                );
                st.bind(1, charge.amount).bind(2, charge.subject);
                st.bind(3, to_iso8601(charge.period_start));
                st.step();
            }
            return out;
        });
    });
}

asio::awaitable<Result<std::vector<BudgetSpend>>> SqliteStore::settle_budget(
    std::vector<BudgetCharge> charges, std::int64_t cost
) {
    // Through the group writer: a turn's answer, stored at the same time, usually shares its
    // transaction.
    std::vector<BudgetSpend> after;
    const auto settle = [&](Connection& c) -> Result<void> {
        for (const auto& charge : charges) {
            // The row made or updated in one statement (issue 14: an insert that did nothing, then
            // the update, before): a subject with no row yet has nothing reserved, so it starts
            // at the cost alone. (Not read back by RETURNING: SQLite 3.40 gathers those rows in
            // an ephemeral table, dearer than the read.)
            auto st = c.prepare(
                "INSERT INTO budget_spend(subject, period_start, spent) VALUES (?3, ?4, ?2) "
                "ON CONFLICT (subject, period_start) DO UPDATE SET "
                "reserved = MAX(reserved - ?1, 0), spent = spent + ?2"
            );
            st.bind(1, charge.amount).bind(2, cost).bind(3, charge.subject);
            st.bind(4, to_iso8601(charge.period_start));
            st.step();
            after.push_back(read_spend(c, charge.subject, charge.period_start));
        }
        return {};
    };
    if (auto written = co_await writer_.write(settle); !written) {
        co_return written.error();
    }
    co_return after;
}

asio::awaitable<Result<BudgetSpend>> SqliteStore::budget_spend(
    std::string subject, TimePoint period_start
) {
    co_return co_await run<BudgetSpend>([&](Connection& c) -> Result<BudgetSpend> {
        return read_spend(c, subject, period_start);
    });
}

}  // namespace parley::store::sqlite
