// Admin and audit on SQLite (issue 16): accounts' roles, disabling and rate limits, the audit log,
// and the usage of all users by day and model.
#include <algorithm>

#include "store/sqlite/sqlite_store_impl.hpp"

namespace parley::store::sqlite {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kAuditColumns = "id, kind, user_id, actor_id, ip, detail, created_at";

AuditEvent read_audit(const Statement& st) {
    AuditEvent e;
    e.id = st.column_text(0);
    e.kind = st.column_text(1);
    e.user_id = column_optional_text(st, 2);
    e.actor_id = column_optional_text(st, 3);
    e.ip = column_optional_text(st, 4);
    e.detail = st.column_text(5);
    e.created_at = column_time(st, 6).value_or(TimePoint{});
    return e;
}

// The WHERE clause of an audit filter and its values, in order. `user_id` matches the events
// about the user and the ones they did to others (an admin's changes).
std::string audit_where(const AuditFilter& f, std::vector<std::string>& values) {
    std::string where = " WHERE 1 = 1";
    if (f.kind) {
        where += " AND kind = ?";
        values.push_back(*f.kind);
    }
    if (f.user_id) {
        where += " AND (user_id = ? OR actor_id = ?)";
        values.push_back(*f.user_id);
        values.push_back(*f.user_id);
    }
    if (f.from) {
        where += " AND created_at >= ?";
        values.push_back(to_iso8601(*f.from));
    }
    if (f.to) {
        where += " AND created_at < ?";
        values.push_back(to_iso8601(*f.to));
    }
    return where;
}

constexpr std::string_view kAccessColumns =
    "id, role, disabled_at, rate_limit_per_minute, ai_rate_limit_per_minute, max_budget_micros, "
    "soft_budget_micros, budget_period";

// A UserAccess from kAccessColumns, read from column `first` on.
UserAccess read_access(const Statement& st, int first) {
    UserAccess a;
    a.user_id = st.column_text(first);
    a.role = st.column_text(first + 1);
    a.disabled_at = column_time(st, first + 2);
    a.rate_limit_per_minute = column_optional_int(st, first + 3);
    a.ai_rate_limit_per_minute = column_optional_int(st, first + 4);
    a.max_budget_micros = column_optional_int(st, first + 5);
    a.soft_budget_micros = column_optional_int(st, first + 6);
    a.budget_period = st.column_text(first + 7);
    return a;
}

}  // namespace

asio::awaitable<Result<std::optional<UserAccess>>> SqliteStore::find_user_access(std::string user_id
) {
    co_return read<std::optional<UserAccess>>(
        [&user_id](Connection& c) -> Result<std::optional<UserAccess>> {
            auto st =
                c.prepare("SELECT " + std::string(kAccessColumns) + " FROM users WHERE id = ?");
            st.bind(1, user_id);
            if (!st.step()) {
                return std::optional<UserAccess>{};
            }
            return std::optional<UserAccess>{read_access(st, 0)};
        }
    );
}

asio::awaitable<Result<Page<AdminUser>>> SqliteStore::list_users(
    std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<Page<AdminUser>>([&](Connection& c) -> Result<Page<AdminUser>> {
        return in_read_snapshot(c, [&] {
            Page<AdminUser> page;
            auto count = c.prepare("SELECT COUNT(*) FROM users");
            count.step();
            page.total = count.column_int(0);
            auto st = c.prepare(
                "SELECT email, created_at, " + std::string(kAccessColumns) +
                " FROM users ORDER BY created_at, id LIMIT ? OFFSET ?"
            );
            st.bind(1, std::max<std::int64_t>(limit, 0)).bind(2, std::max<std::int64_t>(offset, 0));
            while (st.step()) {
                AdminUser u;
                u.email = st.column_text(0);
                u.created_at = column_time(st, 1).value_or(TimePoint{});
                u.access = read_access(st, 2);
                u.id = u.access.user_id;
                page.items.push_back(std::move(u));
            }
            return page;
        });
    });
}

asio::awaitable<Result<bool>> SqliteStore::update_user_access(UserAccess access) {
    co_return co_await run<bool>([&access](Connection& c) -> Result<bool> {
        auto st = c.prepare(
            "UPDATE users SET role = ?, disabled_at = ?, rate_limit_per_minute = ?, "
            "ai_rate_limit_per_minute = ?, max_budget_micros = ?, soft_budget_micros = ?, "
            "budget_period = ? WHERE id = ?"
        );
        st.bind(1, access.role);
        bind_time(st, 2, access.disabled_at);
        bind_optional(st, 3, access.rate_limit_per_minute);
        bind_optional(st, 4, access.ai_rate_limit_per_minute);
        bind_optional(st, 5, access.max_budget_micros);
        bind_optional(st, 6, access.soft_budget_micros);
        st.bind(7, access.budget_period).bind(8, access.user_id);
        st.step();
        return sqlite3_changes(c.handle()) == 1;
    });
}

asio::awaitable<Result<std::vector<std::string>>> SqliteStore::promote_admins(
    std::vector<std::string> emails
) {
    co_return co_await run<std::vector<std::string>>(
        [&emails](Connection& c) -> Result<std::vector<std::string>> {
            std::vector<std::string> promoted;
            in_transaction(c, [&] {
                for (const auto& email : emails) {
                    // email is COLLATE NOCASE: this compares case-insensitively.
                    auto st = c.prepare(
                        "UPDATE users SET role = 'admin' WHERE email = ? AND role <> 'admin' "
                        "RETURNING id"
                    );
                    st.bind(1, email);
                    while (st.step()) {
                        promoted.push_back(st.column_text(0));
                    }
                }
            });
            return promoted;
        }
    );
}

asio::awaitable<Result<std::optional<std::string>>> SqliteStore::promote_first_user() {
    co_return co_await run<std::optional<std::string>>(
        [](Connection& c) -> Result<std::optional<std::string>> {
            // One statement, in SQLite's single writer: two callers cannot both see no admin.
            auto st = c.prepare(
                "UPDATE users SET role = 'admin' WHERE id = (SELECT id FROM users ORDER BY "
                "created_at, id LIMIT 1) AND NOT EXISTS (SELECT 1 FROM users WHERE role = "
                "'admin') RETURNING id"
            );
            if (!st.step()) {
                return std::optional<std::string>{};
            }
            return std::optional<std::string>{st.column_text(0)};
        }
    );
}

asio::awaitable<Result<void>> SqliteStore::insert_audit_events(std::vector<AuditEvent> events) {
    co_return co_await run<void>([&events](Connection& c) -> Result<void> {
        const std::string sql = "INSERT INTO audit_log(" + std::string(kAuditColumns) +
                                ") VALUES (?, ?, ?, ?, ?, ?, ?)";
        in_transaction(c, [&] {
            for (const auto& e : events) {
                auto st = c.prepare(sql);  // cached by the connection: prepared once
                st.bind(1, e.id).bind(2, e.kind);
                bind_optional(st, 3, e.user_id);
                bind_optional(st, 4, e.actor_id);
                bind_optional(st, 5, e.ip);
                st.bind(6, e.detail).bind(7, to_iso8601(e.created_at));
                st.step();
            }
        });
        return {};
    });
}

asio::awaitable<Result<Page<AuditEvent>>> SqliteStore::list_audit_events(
    AuditFilter filter, std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<Page<AuditEvent>>([&](Connection& c) -> Result<Page<AuditEvent>> {
        std::vector<std::string> values;
        const auto where = audit_where(filter, values);
        return in_read_snapshot(c, [&] {
            Page<AuditEvent> page;
            auto count = c.prepare("SELECT COUNT(*) FROM audit_log" + where);
            int i = 1;
            for (const auto& v : values) {
                count.bind(i++, v);
            }
            count.step();
            page.total = count.column_int(0);
            auto st = c.prepare(
                "SELECT " + std::string(kAuditColumns) + " FROM audit_log" + where +
                " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
            );
            i = 1;
            for (const auto& v : values) {
                st.bind(i++, v);
            }
            st.bind(i++, std::max<std::int64_t>(limit, 0));
            st.bind(i, std::max<std::int64_t>(offset, 0));
            while (st.step()) {
                page.items.push_back(read_audit(st));
            }
            return page;
        });
    });
}

asio::awaitable<Result<std::vector<ModelDayUsage>>> SqliteStore::usage_by_day_and_model(
    std::optional<std::string> user_id, std::optional<TimePoint> from, std::optional<TimePoint> to
) {
    co_return co_await run<std::vector<ModelDayUsage>>(
        [&](Connection& c) -> Result<std::vector<ModelDayUsage>> {
            // The same filter over each source: messages (their user through the conversation)
            // and usage records, unioned, then summed.
            std::vector<std::string> values;
            std::string where;
            if (user_id) {
                where += " AND user_id = ?";
            }
            if (from) {
                where += " AND created_at >= ?";
            }
            if (to) {
                where += " AND created_at < ?";
            }
            for (int source = 0; source < 2; ++source) {
                if (user_id) {
                    values.push_back(*user_id);
                }
                if (from) {
                    values.push_back(to_iso8601(*from));
                }
                if (to) {
                    values.push_back(to_iso8601(*to));
                }
            }
            // The UTC day is the stored ISO 8601 text's first ten characters.
            auto st = c.prepare(
                "SELECT substr(created_at, 1, 10) AS day, model, COUNT(DISTINCT user_id), "
                "SUM(is_message), SUM(1 - is_message), COALESCE(SUM(input_tokens), 0), "
                "COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost), 0) FROM (SELECT * FROM ("
                "SELECT c.user_id AS user_id, m.model AS model, m.created_at AS created_at, "
                "m.input_tokens AS input_tokens, m.output_tokens AS output_tokens, m.cost AS cost, "
                "1 AS is_message FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE m.model IS NOT NULL) WHERE 1 = 1" +
                where +
                " UNION ALL SELECT user_id, model, created_at, input_tokens, output_tokens, "
                "cost_micros, 0 FROM usage_records WHERE 1 = 1" +
                where + ") GROUP BY day, model ORDER BY day, model"
            );
            int i = 1;
            for (const auto& v : values) {
                st.bind(i++, v);
            }
            std::vector<ModelDayUsage> rows;
            while (st.step()) {
                ModelDayUsage r;
                r.day = st.column_text(0);
                r.model = st.column_text(1);
                r.user_count = st.column_int(2);
                r.message_count = st.column_int(3);
                r.call_count = st.column_int(4);
                r.input_tokens = st.column_int(5);
                r.output_tokens = st.column_int(6);
                r.cost_micros = st.column_int(7);
                rows.push_back(std::move(r));
            }
            return rows;
        }
    );
}

}  // namespace parley::store::sqlite
