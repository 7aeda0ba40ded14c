// The session event log (seed 004) on SQLite.
#include <algorithm>

#include "store/sqlite/sqlite_store_impl.hpp"

namespace parley::store::sqlite {

namespace asio = boost::asio;

asio::awaitable<Result<void>> SqliteStore::insert_session_events(std::vector<SessionEvent> events) {
    co_return co_await run<void>([&events](Connection& c) -> Result<void> {
        if (events.empty()) {
            return {};
        }
        return in_transaction(c, [&]() -> Result<void> {
            // Every conversation first, so that a missing one leaves the batch unwritten.
            for (std::size_t i = 0; i < events.size(); ++i) {
                if (i > 0 && events[i].conversation_id == events[i - 1].conversation_id) {
                    continue;
                }
                auto exists = c.prepare("SELECT 1 FROM conversations WHERE id = ?");
                if (!exists.bind(1, events[i].conversation_id).step()) {
                    return make_error(ErrorType::not_found, "conversation not found");
                }
            }
            for (const auto& e : events) {
                c.prepare(
                     "INSERT INTO session_events(id, conversation_id, type, content, created_at) "
                     "VALUES (?, ?, ?, ?, ?)"
                )
                    .bind(1, e.id)
                    .bind(2, e.conversation_id)
                    .bind(3, e.type)
                    .bind(4, e.content)
                    .bind(5, to_iso8601(e.created_at))
                    .step();
            }
            return {};
        });
    });
}

asio::awaitable<Result<std::vector<SessionEvent>>> SqliteStore::list_session_events(
    std::string conversation_id, std::optional<std::string> after_id, std::int64_t limit
) {
    co_return co_await run<std::vector<SessionEvent>>(
        [&](Connection& c) -> Result<std::vector<SessionEvent>> {
            std::string sql =
                "SELECT id, conversation_id, type, content, created_at FROM session_events WHERE "
                "conversation_id = ?";
            if (after_id) {
                sql +=
                    " AND (created_at, id) > (SELECT created_at, id FROM session_events WHERE id "
                    "= ?)";
            }
            sql += " ORDER BY created_at, id LIMIT ?";
            auto st = c.prepare(sql);
            int i = 1;
            st.bind(i++, conversation_id);
            if (after_id) {
                st.bind(i++, *after_id);
            }
            st.bind(i, std::max<std::int64_t>(limit, 0));
            std::vector<SessionEvent> out;
            while (st.step()) {
                SessionEvent e;
                e.id = st.column_text(0);
                e.conversation_id = st.column_text(1);
                e.type = st.column_text(2);
                e.content = st.column_text(3);
                e.created_at = column_time(st, 4).value_or(TimePoint{});
                out.push_back(std::move(e));
            }
            return out;
        }
    );
}

}  // namespace parley::store::sqlite
