// Admin and audit on PostgreSQL (issue 16): accounts' roles, disabling and rate limits, the audit
// log, and the usage of all users by day and model. The twin of sqlite/sqlite_admin.cpp.
#include <algorithm>

#include "store/postgres/pg_store_impl.hpp"

namespace parley::store::postgres {

namespace asio = boost::asio;

namespace {

const std::string kAccessColumns =
    "id, role, disabled_at, rate_limit_per_minute, ai_rate_limit_per_minute, max_budget_micros, "
    "soft_budget_micros, budget_period";

// A UserAccess from kAccessColumns, read from column `first` of `row` on.
UserAccess read_access(const PgResult& r, int row, int first) {
    UserAccess a;
    a.user_id = r.text(row, first);
    a.role = r.text(row, first + 1);
    a.disabled_at = r.time(row, first + 2);
    a.rate_limit_per_minute = r.optional_integer(row, first + 3);
    a.ai_rate_limit_per_minute = r.optional_integer(row, first + 4);
    a.max_budget_micros = r.optional_integer(row, first + 5);
    a.soft_budget_micros = r.optional_integer(row, first + 6);
    a.budget_period = r.text(row, first + 7);
    return a;
}

const std::string kAuditColumns = "id, kind, user_id, actor_id, ip, detail, created_at";

AuditEvent read_audit(const PgResult& r, int row) {
    AuditEvent e;
    e.id = r.text(row, 0);
    e.kind = r.text(row, 1);
    e.user_id = r.optional_text(row, 2);
    e.actor_id = r.optional_text(row, 3);
    e.ip = r.optional_text(row, 4);
    e.detail = r.text(row, 5);
    e.created_at = r.time(row, 6).value_or(TimePoint{});
    return e;
}

// The WHERE clause of an audit filter, its values appended to `p`. `user_id` matches the events
// about the user and the ones they did to others (an admin's changes).
std::string audit_where(const AuditFilter& f, Params& p) {
    std::string where = " WHERE TRUE";
    if (f.kind) {
        where += " AND kind = " + p.next();
        p.text(*f.kind);
    }
    if (f.user_id) {
        const auto n = p.next();
        where += " AND (user_id = " + n + " OR actor_id = " + n + ")";
        p.text(*f.user_id);
    }
    if (f.from) {
        where += " AND created_at >= " + p.next();
        p.time(*f.from);
    }
    if (f.to) {
        where += " AND created_at < " + p.next();
        p.time(*f.to);
    }
    return where;
}

}  // namespace

asio::awaitable<Result<std::optional<UserAccess>>> PgStore::find_user_access(std::string user_id) {
    co_return co_await run<std::optional<UserAccess>>(
        [](PgConnection& c,
           const std::string& id) -> asio::awaitable<Result<std::optional<UserAccess>>> {
            const auto r = co_await c.query(
                "SELECT " + kAccessColumns + " FROM users WHERE id = $1", Params().text(id)
            );
            if (r.rows() == 0) {
                co_return std::optional<UserAccess>{};
            }
            co_return std::optional<UserAccess>{read_access(r, 0, 0)};
        },
        user_id
    );
}

asio::awaitable<Result<Page<AdminUser>>> PgStore::list_users(
    std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<Page<AdminUser>>(
        [](PgConnection& c, std::int64_t off, std::int64_t n
        ) -> asio::awaitable<Result<Page<AdminUser>>> {
            Page<AdminUser> page;
            co_await c.exec(std::string(kBeginSnapshot));
            const auto count = co_await c.query("SELECT COUNT(*) FROM users", Params());
            page.total = count.integer(0, 0);
            const auto r = co_await c.query(
                "SELECT email, created_at, " + kAccessColumns +
                    " FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2",
                Params()
                    .integer(std::max<std::int64_t>(n, 0))
                    .integer(std::max<std::int64_t>(off, 0))
            );
            co_await c.exec("COMMIT");
            for (int row = 0; row < r.rows(); ++row) {
                AdminUser u;
                u.email = r.text(row, 0);
                u.created_at = r.time(row, 1).value_or(TimePoint{});
                u.access = read_access(r, row, 2);
                u.id = u.access.user_id;
                page.items.push_back(std::move(u));
            }
            co_return page;
        },
        offset,
        limit
    );
}

asio::awaitable<Result<bool>> PgStore::update_user_access(UserAccess access) {
    co_return co_await run<bool>(
        [](PgConnection& c, const UserAccess& a) -> asio::awaitable<Result<bool>> {
            const auto r = co_await c.query(
                "UPDATE users SET role = $1, disabled_at = $2, rate_limit_per_minute = $3, "
                "ai_rate_limit_per_minute = $4, max_budget_micros = $5, soft_budget_micros = $6, "
                "budget_period = $7 WHERE id = $8",
                Params()
                    .text(a.role)
                    .optional_time(a.disabled_at)
                    .optional_integer(a.rate_limit_per_minute)
                    .optional_integer(a.ai_rate_limit_per_minute)
                    .optional_integer(a.max_budget_micros)
                    .optional_integer(a.soft_budget_micros)
                    .text(a.budget_period)
                    .text(a.user_id)
            );
            co_return r.affected() == 1;
        },
        access
    );
}

asio::awaitable<Result<std::vector<std::string>>> PgStore::promote_admins(
    std::vector<std::string> emails
) {
    co_return co_await run<std::vector<std::string>>(
        [](PgConnection& c, const std::vector<std::string>& list
        ) -> asio::awaitable<Result<std::vector<std::string>>> {
            std::vector<std::string> promoted;
            for (const auto& email : list) {
                // lower() under "C", as the unique index on emails compares them.
                const auto r = co_await c.query(
                    "UPDATE users SET role = 'admin' WHERE lower(email) = lower($1) AND role <> "
                    "'admin' RETURNING id",
                    Params().text(email)
                );
                for (int row = 0; row < r.rows(); ++row) {
                    promoted.push_back(r.text(row, 0));
                }
            }
            co_return promoted;
        },
        emails
    );
}

asio::awaitable<Result<std::optional<std::string>>> PgStore::promote_first_user() {
    co_return co_await run<std::optional<std::string>>(
        [](PgConnection& c) -> asio::awaitable<Result<std::optional<std::string>>> {
            // Concurrent callers target the same (oldest) row; the row lock orders them.
            const auto r = co_await c.query(
                "UPDATE users SET role = 'admin' WHERE id = (SELECT id FROM users ORDER BY "
                "created_at, id LIMIT 1) AND NOT EXISTS (SELECT 1 FROM users WHERE role = "
                "'admin') RETURNING id",
                Params()
            );
            if (r.rows() == 0) {
                co_return std::optional<std::string>{};
            }
            co_return std::optional<std::string>{r.text(0, 0)};
        }
    );
}

asio::awaitable<Result<void>> PgStore::insert_audit_events(std::vector<AuditEvent> events) {
    co_return co_await run<void>(
        [](PgConnection& c, const std::vector<AuditEvent>& batch) -> asio::awaitable<Result<void>> {
            if (batch.empty()) {
                co_return Result<void>{};
            }
            // One multi-row INSERT: one round trip and atomic without an explicit transaction.
            std::string sql = "INSERT INTO audit_log(" + kAuditColumns + ") VALUES ";
            Params p;
            constexpr std::size_t kColumns = 7;
            for (std::size_t i = 0; i < batch.size(); ++i) {
                sql += i == 0 ? "(" : ", (";
                for (std::size_t col = 1; col <= kColumns; ++col) {
                    sql += (col == 1 ? "$" : ", $") + std::to_string(i * kColumns + col);
                }
                sql += ")";
                const auto& e = batch[i];
                p.text(e.id).text(e.kind).optional_text(e.user_id).optional_text(e.actor_id);
                p.optional_text(e.ip).text(e.detail).time(e.created_at);
            }
            co_await c.query(sql, p);
            co_return Result<void>{};
        },
        events
    );
}

asio::awaitable<Result<Page<AuditEvent>>> PgStore::list_audit_events(
    AuditFilter filter, std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<Page<AuditEvent>>(
        [](PgConnection& c, const AuditFilter& f, std::int64_t off, std::int64_t n
        ) -> asio::awaitable<Result<Page<AuditEvent>>> {
            Params p;
            const auto where = audit_where(f, p);
            Page<AuditEvent> page;
            co_await c.exec(std::string(kBeginSnapshot));
            const auto count = co_await c.query("SELECT COUNT(*) FROM audit_log" + where, p);
            page.total = count.integer(0, 0);
            std::string sql = "SELECT " + kAuditColumns + " FROM audit_log" + where +
                              " ORDER BY created_at DESC, id DESC LIMIT " + p.next();
            p.integer(std::max<std::int64_t>(n, 0));
            sql += " OFFSET " + p.next();
            p.integer(std::max<std::int64_t>(off, 0));
            const auto r = co_await c.query(sql, p);
            co_await c.exec("COMMIT");
            for (int row = 0; row < r.rows(); ++row) {
                page.items.push_back(read_audit(r, row));
            }
            co_return page;
        },
        filter,
        offset,
        limit
    );
}

asio::awaitable<Result<std::vector<ModelDayUsage>>> PgStore::usage_by_day_and_model(
    std::optional<std::string> user_id, std::optional<TimePoint> from, std::optional<TimePoint> to
) {
    co_return co_await run<std::vector<ModelDayUsage>>(
        [](PgConnection& c,
           const std::optional<std::string>& user,
           const std::optional<TimePoint>& since,
           const std::optional<TimePoint>& until
        ) -> asio::awaitable<Result<std::vector<ModelDayUsage>>> {
            // The same filter over each source: messages (their user through the conversation)
            // and usage records, unioned, then summed. Parameters are shared by both.
            Params p;
            std::string where;
            if (user) {
                where += " AND user_id = " + p.next();
                p.text(*user);
            }
            if (since) {
                where += " AND created_at >= " + p.next();
                p.time(*since);
            }
            if (until) {
                where += " AND created_at < " + p.next();
                p.time(*until);
            }
            // SUM of BIGINT is NUMERIC; the cast back fails on overflow rather than rounding.
            const auto r = co_await c.query(
                "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, model, "
                "COUNT(DISTINCT user_id), SUM(is_message)::BIGINT, SUM(1 - is_message)::BIGINT, "
                "COALESCE(SUM(input_tokens), 0)::BIGINT, COALESCE(SUM(output_tokens), 0)::BIGINT, "
                "COALESCE(SUM(cost), 0)::BIGINT FROM (SELECT * FROM (SELECT c.user_id AS user_id, "
                "m.model AS model, m.created_at AS created_at, m.input_tokens AS input_tokens, "
                "m.output_tokens AS output_tokens, m.cost AS cost, 1 AS is_message FROM messages m "
                "JOIN conversations c ON c.id = m.conversation_id WHERE m.model IS NOT NULL) AS mm "
                "WHERE TRUE" +
                    where +
                    " UNION ALL SELECT user_id, model, created_at, input_tokens, output_tokens, "
                    "cost_micros, 0 FROM usage_records WHERE TRUE" +
                    where + ") AS u GROUP BY day, model ORDER BY day, model",
                p
            );
            std::vector<ModelDayUsage> rows;
            for (int row = 0; row < r.rows(); ++row) {
                ModelDayUsage u;
                u.day = r.text(row, 0);
                u.model = r.text(row, 1);
                u.user_count = r.integer(row, 2);
                u.message_count = r.integer(row, 3);
                u.call_count = r.integer(row, 4);
                u.input_tokens = r.integer(row, 5);
                u.output_tokens = r.integer(row, 6);
                u.cost_micros = r.integer(row, 7);
                rows.push_back(std::move(u));
            }
            co_return rows;
        },
        user_id,
        from,
        to
    );
}

}  // namespace parley::store::postgres
