// Full-text search (FTS5: messages_fts and conversations_fts, migration 0002) and the seed's
// prompt/response view of conversations, on SQLite.
#include <algorithm>

#include "store/sqlite/sqlite_store_impl.hpp"

namespace parley::store::sqlite {

namespace asio = boost::asio;

namespace {

// bm25 is lower-is-better; ranks here are higher-is-better, like PostgreSQL's ts_rank_cd.
constexpr std::string_view kScore = "-bm25(messages_fts)";
// About 24 words around the best match; \x01 and \x02 mark the matched terms (kMatchStart/End).
constexpr std::string_view kSnippet = "snippet(messages_fts, 0, char(1), char(2), '…', 24)";

// The prompt/response of conversation `c` (an alias in the enclosing query): the first user and
// the first assistant message, oldest first.
constexpr std::string_view kExchangeColumns =
    "c.id, c.user_id, c.created_at, "
    "COALESCE((SELECT content FROM messages WHERE conversation_id = c.id AND role = 'user' "
    "ORDER BY created_at, id LIMIT 1), ''), "
    "COALESCE((SELECT content FROM messages WHERE conversation_id = c.id AND role = 'assistant' "
    "ORDER BY created_at, id LIMIT 1), '')";

Exchange read_exchange(const Statement& st) {
    Exchange e;
    e.conversation_id = st.column_text(0);
    e.user_id = st.column_text(1);
    e.created_at = column_time(st, 2).value_or(TimePoint{});
    e.prompt = st.column_text(3);
    e.response = st.column_text(4);
    return e;
}

std::int64_t non_negative(std::int64_t n) {
    return std::max<std::int64_t>(n, 0);
}

// The matching messages of one user, best first per conversation, as (conversation, score, seq):
// the FTS query shared by the seed's /search page and its count.
constexpr std::string_view kBestPerConversation =
    "WITH hits AS MATERIALIZED (SELECT m.conversation_id AS cid, -bm25(messages_fts) AS score, "
    "m.seq AS seq FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid JOIN "
    "conversations c ON c.id = m.conversation_id WHERE messages_fts MATCH ? AND c.user_id = ?), "
    // SQLite takes a bare column of an aggregate query from the row MAX() picked.
    "best AS (SELECT cid, MAX(score) AS score, seq FROM hits GROUP BY cid) ";

}  // namespace

bool index_waiting_rows(Connection& c) {
    {
        auto waiting = c.prepare(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE seq > "
            "(SELECT seq FROM messages_fts_indexed)) OR "
            "EXISTS (SELECT 1 FROM conversations_fts_pending)"
        );
        if (!waiting.step() || waiting.column_int(0) == 0) {
            return false;
        }
    }
    in_transaction(c, [&c] {
        index_messages_above(c);
        // As the conversations_fts_index trigger of migration 0008.
        c.prepare(
             "INSERT INTO conversations_fts(rowid, title) SELECT cv.seq, cv.title FROM "
             "conversations_fts_pending p JOIN conversations cv ON cv.seq = p.seq ORDER BY p.seq"
        )
            .step();
        c.prepare("DELETE FROM conversations_fts_pending").step();
    });
    return true;
}

asio::awaitable<Result<bool>> SqliteStore::index_pending_search() {
    co_return co_await run<bool>([](Connection& c) -> Result<bool> {
        return index_waiting_rows(c);
    });
}

asio::awaitable<Result<std::vector<MessageHit>>> SqliteStore::search_messages(
    MessageSearch search, std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<std::vector<MessageHit>>(
        [&](Connection& c) -> Result<std::vector<MessageHit>> {
            std::vector<MessageHit> out;
            if (!search.query.has_positive()) {
                return out;
            }
            index_waiting_rows(c);
            const auto columns = qualified_columns(kMessageColumns, "m");
            std::string sql = "SELECT " + columns + ", c.title, " + std::string(kScore) +
                              " AS score, " + std::string(kSnippet) +
                              " FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid "
                              "JOIN conversations c ON c.id = m.conversation_id "
                              "WHERE messages_fts MATCH ? AND c.user_id = ?";
            if (search.conversation_id) {
                sql += " AND m.conversation_id = ?";
            }
            if (search.role) {
                sql += " AND m.role = ?";
            }
            if (search.from) {
                sql += " AND m.created_at >= ?";
            }
            if (search.to) {
                sql += " AND m.created_at < ?";
            }
            if (!search.include_archived) {
                sql += " AND c.is_archived = 0";
            }
            sql += " ORDER BY score DESC, m.created_at DESC, m.id DESC LIMIT ? OFFSET ?";
            auto st = c.prepare(sql);
            int i = 1;
            st.bind(i++, to_fts5(search.query));
            st.bind(i++, search.user_id);
            if (search.conversation_id) {
                st.bind(i++, *search.conversation_id);
            }
            if (search.role) {
                st.bind(i++, *search.role);
            }
            if (search.from) {
                st.bind(i++, to_iso8601(*search.from));
            }
            if (search.to) {
                st.bind(i++, to_iso8601(*search.to));
            }
            st.bind(i++, non_negative(limit));
            st.bind(i, non_negative(offset));
            while (st.step()) {
                MessageHit hit;
                hit.message = read_message(st, 0);
                if (!st.column_is_null(18)) {
                    hit.conversation_title = st.column_text(18);
                }
                hit.rank = st.column_double(19);
                hit.snippet = st.column_text(20);
                out.push_back(std::move(hit));
            }
            return out;
        }
    );
}

asio::awaitable<Result<Page<ExchangeHit>>> SqliteStore::search_exchanges(
    std::string user_id, SearchQuery query, std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<Page<ExchangeHit>>([&](Connection& c) -> Result<Page<ExchangeHit>> {
        Page<ExchangeHit> page;
        if (!query.has_positive()) {
            return page;
        }
        const auto match = to_fts5(query);
        index_waiting_rows(c);
        return in_read_snapshot(c, [&] {
            auto count = c.prepare(std::string(kBestPerConversation) + "SELECT COUNT(*) FROM best");
            count.bind(1, match).bind(2, user_id).step();
            page.total = count.column_int(0);

            struct Found {
                std::string id;
                double score;
                std::int64_t seq;
            };
            std::vector<Found> found;
            auto st = c.prepare(
                std::string(kBestPerConversation) +
                "SELECT cid, score, seq FROM best ORDER BY score DESC, cid DESC LIMIT ? OFFSET ?"
            );
            st.bind(1, match).bind(2, user_id).bind(3, non_negative(limit));
            st.bind(4, non_negative(offset));
            while (st.step()) {
                found.push_back({st.column_text(0), st.column_double(1), st.column_int(2)});
            }
            for (const auto& f : found) {
                ExchangeHit hit;
                hit.rank = f.score;
                auto snippet = c.prepare(
                    "SELECT " + std::string(kSnippet) +
                    " FROM messages_fts WHERE messages_fts MATCH ? AND rowid = ?"
                );
                snippet.bind(1, match).bind(2, f.seq);
                if (snippet.step()) {
                    hit.snippet = snippet.column_text(0);
                }
                auto exchange = c.prepare(
                    "SELECT " + std::string(kExchangeColumns) +
                    " FROM conversations c WHERE c.id = ?"
                );
                exchange.bind(1, f.id);
                if (exchange.step()) {
                    hit.exchange = read_exchange(exchange);
                    page.items.push_back(std::move(hit));
                }
            }
            return page;
        });
    });
}

asio::awaitable<Result<Page<Exchange>>> SqliteStore::list_exchanges(
    std::string user_id, std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<Page<Exchange>>([&](Connection& c) -> Result<Page<Exchange>> {
        return in_read_snapshot(c, [&] {
            Page<Exchange> page;
            auto count = c.prepare("SELECT COUNT(*) FROM conversations WHERE user_id = ?");
            count.bind(1, user_id).step();
            page.total = count.column_int(0);
            auto st = c.prepare(
                "SELECT " + std::string(kExchangeColumns) +
                " FROM conversations c WHERE c.user_id = ? ORDER BY c.created_at DESC, c.id DESC "
                "LIMIT ? OFFSET ?"
            );
            st.bind(1, user_id).bind(2, non_negative(limit)).bind(3, non_negative(offset));
            while (st.step()) {
                page.items.push_back(read_exchange(st));
            }
            return page;
        });
    });
}

asio::awaitable<Result<std::optional<Exchange>>> SqliteStore::find_exchange(
    std::string conversation_id
) {
    co_return co_await run<std::optional<Exchange>>(
        [&](Connection& c) -> Result<std::optional<Exchange>> {
            auto st = c.prepare(
                "SELECT " + std::string(kExchangeColumns) + " FROM conversations c WHERE c.id = ?"
            );
            st.bind(1, conversation_id);
            if (!st.step()) {
                return std::optional<Exchange>{};
            }
            return std::optional<Exchange>{read_exchange(st)};
        }
    );
}

}  // namespace parley::store::sqlite
