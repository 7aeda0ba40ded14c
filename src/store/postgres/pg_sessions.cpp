// The session event log (seed 004) on PostgreSQL; mirrors sqlite_sessions.cpp.
#include <algorithm>

#include "store/postgres/pg_store_impl.hpp"

namespace parley::store::postgres {

namespace asio = boost::asio;

asio::awaitable<Result<void>> PgStore::insert_session_events(std::vector<SessionEvent> events) {
    co_return co_await run<void>(
        [](PgConnection& c,
           const std::vector<SessionEvent>& batch) -> asio::awaitable<Result<void>> {
            if (batch.empty()) {
                co_return Result<void>{};
            }
            // One statement for the whole batch (one round trip, one transaction): the rows as
            // parallel arrays, unnested.
            Params p;
            std::string sql =
                "INSERT INTO session_events(id, conversation_id, type, content, created_at) "
                "SELECT * FROM unnest(";
            const auto array = [](const std::vector<std::string>& values) {
                std::string out = "{";
                for (std::size_t i = 0; i < values.size(); ++i) {
                    if (i > 0) {
                        out += ',';
                    }
                    out += '"';
                    for (const char ch : values[i]) {
                        if (ch == '"' || ch == '\\') {
                            out += '\\';
                        }
                        out += ch;
                    }
                    out += '"';
                }
                out += '}';
                return out;
            };
            std::vector<std::string> id, conversation, type, content, at;
            for (const auto& e : batch) {
                id.push_back(e.id);
                conversation.push_back(e.conversation_id);
                type.push_back(e.type);
                content.push_back(e.content);
                at.push_back(to_iso8601(e.created_at));
            }
            p.text(array(id)).text(array(conversation)).text(array(type)).text(array(content));
            p.text(array(at));
            sql += "$1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])";
            try {
                co_await c.query(sql, p);
            } catch (const PgError& e) {
                if (e.sqlstate() == "23503") {  // foreign_key_violation: no such conversation
                    co_return make_error(ErrorType::not_found, "conversation not found");
                }
                throw;
            }
            co_return Result<void>{};
        },
        events
    );
}

asio::awaitable<Result<std::vector<SessionEvent>>> PgStore::list_session_events(
    std::string conversation_id, std::optional<std::string> after_id, std::int64_t limit
) {
    co_return co_await run<std::vector<SessionEvent>>(
        [](PgConnection& c,
           const std::string& id,
           const std::optional<std::string>& after,
           std::int64_t n) -> asio::awaitable<Result<std::vector<SessionEvent>>> {
            Params p;
            p.text(id);
            std::string sql =
                "SELECT id, conversation_id, type, content, created_at FROM session_events WHERE "
                "conversation_id = $1";
            if (after) {
                sql +=
                    " AND (created_at, id) > (SELECT created_at, id FROM session_events WHERE id "
                    "= " +
                    p.next() + ")";
                p.text(*after);
            }
            sql += " ORDER BY created_at, id LIMIT " + p.next();
            p.integer(std::max<std::int64_t>(n, 0));
            const auto r = co_await c.query(sql, p);
            std::vector<SessionEvent> out;
            for (int row = 0; row < r.rows(); ++row) {
                SessionEvent e;
                e.id = r.text(row, 0);
                e.conversation_id = r.text(row, 1);
                e.type = r.text(row, 2);
                e.content = r.text(row, 3);
                e.created_at = r.time(row, 4).value_or(TimePoint{});
                out.push_back(std::move(e));
            }
            co_return out;
        },
        conversation_id,
        after_id,
        limit
    );
}

}  // namespace parley::store::postgres
