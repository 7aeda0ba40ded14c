// Full-text search (the tsvector columns messages.search and conversations.title_search with GIN
// indexes, migration 0002) and the seed's prompt/response view of conversations, on PostgreSQL.
// The queries mirror the SQLite store's (sqlite_search.cpp) one for one.
#include <algorithm>

#include "store/postgres/pg_store_impl.hpp"

namespace parley::store::postgres {

namespace asio = boost::asio;

namespace {

// ts_headline's options: about 15–35 words around the best match, the matched terms between \x01
// and \x02 (kMatchStart/kMatchEnd). PostgreSQL's parser drops HTML tags from headlines, so a
// message's "<script>" is left out here where SQLite's snippet shows it escaped.
const std::string kHeadlineOptions =
    "'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', MaxWords=35, MinWords=15, "
    "ShortWord=3'";

// The prompt/response of conversation `c` (an alias in the enclosing query).
const std::string kExchangeColumns =
    "c.id, c.user_id, c.created_at, "
    "COALESCE((SELECT content FROM messages WHERE conversation_id = c.id AND role = 'user' "
    "ORDER BY created_at, id LIMIT 1), ''), "
    "COALESCE((SELECT content FROM messages WHERE conversation_id = c.id AND role = 'assistant' "
    "ORDER BY created_at, id LIMIT 1), '')";

constexpr int kExchangeColumnCount = 5;

Exchange read_exchange(const PgResult& r, int row) {
    Exchange e;
    e.conversation_id = r.text(row, 0);
    e.user_id = r.text(row, 1);
    e.created_at = r.time(row, 2).value_or(TimePoint{});
    e.prompt = r.text(row, 3);
    e.response = r.text(row, 4);
    return e;
}

std::int64_t non_negative(std::int64_t n) {
    return std::max<std::int64_t>(n, 0);
}

// The best matching message of each of one user's conversations ($1 the websearch text, $2 the
// user), shared by the seed's /search page and its count. Ties within a conversation: its oldest.
const std::string kBestPerConversation =
    "WITH best AS (SELECT DISTINCT ON (m.conversation_id) m.conversation_id AS cid, m.content, "
    "ts_rank_cd(m.search, q) AS rank, q FROM messages m JOIN conversations c ON c.id = "
    "m.conversation_id, websearch_to_tsquery('english', $1) q WHERE m.search @@ q AND c.user_id "
    "= $2 ORDER BY m.conversation_id, rank DESC, m.created_at, m.id) ";

}  // namespace

std::string matching_tsquery(const SearchQuery& q, Params& p) {
    std::string sql = "(websearch_to_tsquery('english', " + p.next() + ")";
    p.text(to_websearch(q, true));
    if (const auto word = prefix_word(q)) {
        // A quoted lexeme with :* is a prefix, normalised (stemmed) like the rest.
        sql += " && to_tsquery('english', " + p.next() + ")";
        p.text("'" + *word + "':*");
    }
    sql += ")";
    return sql;
}

asio::awaitable<Result<std::vector<MessageHit>>> PgStore::search_messages(
    MessageSearch search, std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<std::vector<MessageHit>>(
        [](PgConnection& c, const MessageSearch& s, std::int64_t off, std::int64_t n
        ) -> asio::awaitable<Result<std::vector<MessageHit>>> {
            std::vector<MessageHit> out;
            if (!s.query.has_positive()) {
                co_return out;
            }
            Params p;
            p.text(to_websearch(s.query)).text(s.user_id);
            const auto columns = qualified_columns(kMessageColumns, "m");
            std::string where = " WHERE m.search @@ q AND c.user_id = $2";
            if (s.conversation_id) {
                where += " AND m.conversation_id = " + p.next();
                p.text(*s.conversation_id);
            }
            if (s.role) {
                where += " AND m.role = " + p.next();
                p.text(*s.role);
            }
            if (s.from) {
                where += " AND m.created_at >= " + p.next();
                p.time(*s.from);
            }
            if (s.to) {
                where += " AND m.created_at < " + p.next();
                p.time(*s.to);
            }
            if (!s.include_archived) {
                where += " AND NOT c.is_archived";
            }
            const auto limit_at = p.next();
            p.integer(non_negative(n));
            const auto offset_at = p.next();
            p.integer(non_negative(off));
            // The page first, then a headline for its rows only (ts_headline re-reads the text).
            const auto r = co_await c.query(
                "SELECT " + kMessageColumns + ", title, rank, ts_headline('english', content, q, " +
                    kHeadlineOptions + ") FROM (SELECT " + columns +
                    ", c.title, ts_rank_cd(m.search, q) AS rank, q FROM messages m JOIN "
                    "conversations c ON c.id = m.conversation_id, websearch_to_tsquery('english', "
                    "$1) q" +
                    where + " ORDER BY rank DESC, m.created_at DESC, m.id DESC LIMIT " + limit_at +
                    " OFFSET " + offset_at + ") page ORDER BY rank DESC, created_at DESC, id DESC",
                p
            );
            for (int row = 0; row < r.rows(); ++row) {
                MessageHit hit;
                hit.message = read_message(r, row, 0);
                hit.conversation_title = r.optional_text(row, kMessageColumnCount);
                hit.rank = r.real(row, kMessageColumnCount + 1);
                hit.snippet = r.text(row, kMessageColumnCount + 2);
                out.push_back(std::move(hit));
            }
            co_return out;
        },
        search,
        offset,
        limit
    );
}

asio::awaitable<Result<Page<ExchangeHit>>> PgStore::search_exchanges(
    std::string user_id, SearchQuery query, std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<Page<ExchangeHit>>(
        [](PgConnection& c,
           const std::string& user,
           const SearchQuery& q,
           std::int64_t off,
           std::int64_t n) -> asio::awaitable<Result<Page<ExchangeHit>>> {
            Page<ExchangeHit> page;
            if (!q.has_positive()) {
                co_return page;
            }
            const auto text = to_websearch(q);
            Params p;
            p.text(text).text(user).integer(non_negative(n)).integer(non_negative(off));
            const auto r = co_await c.query(
                kBestPerConversation +
                    ", page AS (SELECT cid, content, rank, q, COUNT(*) OVER () AS total FROM best "
                    "ORDER BY rank DESC, cid DESC LIMIT $3 OFFSET $4) SELECT " +
                    kExchangeColumns +
                    ", page.rank, ts_headline('english', page.content, page.q, " +
                    kHeadlineOptions +
                    "), page.total FROM page JOIN conversations c ON c.id = page.cid ORDER BY "
                    "page.rank DESC, page.cid DESC",
                p
            );
            for (int row = 0; row < r.rows(); ++row) {
                ExchangeHit hit;
                hit.exchange = read_exchange(r, row);
                hit.rank = r.real(row, kExchangeColumnCount);
                hit.snippet = r.text(row, kExchangeColumnCount + 1);
                page.total = r.integer(row, kExchangeColumnCount + 2);
                page.items.push_back(std::move(hit));
            }
            if (r.rows() == 0 && off > 0) {
                // Past the end: the total on its own.
                const auto count = co_await c.query(
                    kBestPerConversation + "SELECT COUNT(*) FROM best",
                    Params().text(text).text(user)
                );
                page.total = count.integer(0, 0);
            }
            co_return page;
        },
        user_id,
        query,
        offset,
        limit
    );
}

asio::awaitable<Result<Page<Exchange>>> PgStore::list_exchanges(
    std::string user_id, std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<Page<Exchange>>(
        [](PgConnection& c, const std::string& user, std::int64_t off, std::int64_t n
        ) -> asio::awaitable<Result<Page<Exchange>>> {
            // The page's ids and the total in one statement (one snapshot), then each row's pair.
            const auto r = co_await c.query(
                "WITH page AS (SELECT id, created_at, COUNT(*) OVER () AS total FROM conversations "
                "WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3) SELECT " +
                    kExchangeColumns +
                    ", page.total FROM page JOIN conversations c ON c.id = page.id ORDER BY "
                    "page.created_at DESC, page.id DESC",
                Params().text(user).integer(non_negative(n)).integer(non_negative(off))
            );
            Page<Exchange> page;
            for (int row = 0; row < r.rows(); ++row) {
                page.items.push_back(read_exchange(r, row));
                page.total = r.integer(row, kExchangeColumnCount);
            }
            if (r.rows() == 0) {
                const auto count = co_await c.query(
                    "SELECT COUNT(*) FROM conversations WHERE user_id = $1", Params().text(user)
                );
                page.total = count.integer(0, 0);
            }
            co_return page;
        },
        user_id,
        offset,
        limit
    );
}

asio::awaitable<Result<std::optional<Exchange>>> PgStore::find_exchange(std::string conversation_id
) {
    co_return co_await run<std::optional<Exchange>>(
        [](PgConnection& c,
           const std::string& id) -> asio::awaitable<Result<std::optional<Exchange>>> {
            const auto r = co_await c.query(
                "SELECT " + kExchangeColumns + " FROM conversations c WHERE c.id = $1",
                Params().text(id)
            );
            if (r.rows() == 0) {
                co_return std::optional<Exchange>{};
            }
            co_return std::optional<Exchange>{read_exchange(r, 0)};
        },
        conversation_id
    );
}

}  // namespace parley::store::postgres
