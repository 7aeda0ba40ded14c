// Conversations, messages and usage statistics on PostgreSQL. The queries mirror the SQLite
// store's one for one, so both return the same rows in the same order.
#include <algorithm>

#include "store/postgres/pg_store_impl.hpp"

namespace parley::store::postgres {

namespace asio = boost::asio;

namespace {

const std::string kConversationColumns =
    "id, user_id, title, model, system_prompt, settings, metadata, is_archived, is_pinned, "
    "summary, created_at, updated_at, summary_updated_at, active_leaf_id";

constexpr int kConversationColumnCount = 14;

// The conversations' one order, newest activity first; keyset cursors compare in it too. Ids are
// COLLATE "C" columns, so ties break by bytes, as in SQLite.
const std::string kConversationOrder = " ORDER BY updated_at DESC, id DESC";

Conversation read_conversation(const PgResult& r, int row) {
    Conversation c;
    c.id = r.text(row, 0);
    c.user_id = r.text(row, 1);
    c.title = r.optional_text(row, 2);
    c.model = r.text(row, 3);
    c.system_prompt = r.optional_text(row, 4);
    c.settings = r.text(row, 5);
    c.metadata = r.text(row, 6);
    c.is_archived = r.boolean(row, 7);
    c.is_pinned = r.boolean(row, 8);
    c.summary = r.optional_text(row, 9);
    c.created_at = r.time(row, 10).value_or(TimePoint{});
    c.updated_at = r.time(row, 11).value_or(TimePoint{});
    c.summary_updated_at = r.time(row, 12);
    c.active_leaf_id = r.optional_text(row, 13);
    return c;
}

template <class T, class Read>
std::vector<T> all_rows(const PgResult& r, Read read) {
    std::vector<T> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        out.push_back(read(r, i));
    }
    return out;
}

// The WHERE clause for `f`, its parameters appended to `p`.
std::string filter_clause(const ConversationFilter& f, Params& p) {
    std::string where = " WHERE user_id = " + p.next();
    p.text(f.user_id);
    if (f.archived) {
        where += " AND is_archived = " + p.next();
        p.boolean(*f.archived);
    }
    if (f.model) {
        where += " AND model = " + p.next();
        p.text(*f.model);
    }
    if (f.matching) {
        if (!f.matching->has_positive()) {
            where += " AND false";  // nothing to match: nothing matches
        } else {
            const auto query = matching_tsquery(*f.matching, p);
            where += " AND (title_search @@ " + query +
                     " OR id IN (SELECT conversation_id FROM messages WHERE search @@ " + query +
                     "))";
        }
    }
    return where;
}

// Every billed row of one user in [from, to) as one row set `u`: the conversations' messages
// (is_message 1, no key recorded) and the model calls that store no message (usage_records,
// is_message 0, with the key that made them). The user and period filter each branch, so each
// is read through its own index.
std::string usage_clause(
    const std::string& user_id,
    const std::optional<TimePoint>& from,
    const std::optional<TimePoint>& to,
    Params& p
) {
    const auto filter = [&](std::string_view user_column, std::string_view time_column) {
        std::string out = " WHERE " + std::string(user_column) + " = " + p.next();
        p.text(user_id);
        if (from) {
            out += " AND " + std::string(time_column) + " >= " + p.next();
            p.time(*from);
        }
        if (to) {
            out += " AND " + std::string(time_column) + " < " + p.next();
            p.time(*to);
        }
        return out;
    };
    std::string sql =
        " FROM (SELECT NULL::TEXT COLLATE \"C\" AS api_key_id, m.model AS model, "
        "m.input_tokens AS input_tokens, m.output_tokens AS output_tokens, m.cost AS cost, "
        "m.created_at AS created_at, 1 AS is_message FROM messages m JOIN conversations c ON "
        "c.id = m.conversation_id";
    sql += filter("c.user_id", "m.created_at");
    sql +=
        " UNION ALL SELECT r.api_key_id, r.model, r.input_tokens, r.output_tokens, r.cost_micros, "
        "r.created_at, 0 FROM usage_records r";
    sql += filter("r.user_id", "r.created_at");
    return sql + ") u";
}

// SUM of BIGINT is NUMERIC in PostgreSQL; the cast back fails on overflow instead of rounding,
// as SQLite's integer SUM does, so micro-dollar totals stay exact.
const std::string kUsageSums =
    "COALESCE(SUM(u.is_message), 0)::BIGINT, COALESCE(SUM(1 - u.is_message), 0)::BIGINT, "
    "COALESCE(SUM(u.input_tokens), 0)::BIGINT, COALESCE(SUM(u.output_tokens), 0)::BIGINT, "
    "COALESCE(SUM(u.cost), 0)::BIGINT";

// Reads the five kUsageSums columns starting at `first`.
UsageRow read_usage_row(const PgResult& r, int row, int first) {
    UsageRow out;
    out.message_count = r.integer(row, first);
    out.call_count = r.integer(row, first + 1);
    out.input_tokens = r.integer(row, first + 2);
    out.output_tokens = r.integer(row, first + 3);
    out.cost_micros = r.integer(row, first + 4);
    return out;
}

std::int64_t non_negative(std::int64_t n) {
    return std::max<std::int64_t>(n, 0);
}

}  // namespace

Message read_message(const PgResult& r, int row, int first) {
    Message m;
    m.id = r.text(row, first + 0);
    m.conversation_id = r.text(row, first + 1);
    m.parent_id = r.optional_text(row, first + 2);
    m.role = r.text(row, first + 3);
    m.content = r.text(row, first + 4);
    m.thinking = r.optional_text(row, first + 5);
    m.status = r.text(row, first + 6);
    m.model = r.optional_text(row, first + 7);
    m.provider = r.optional_text(row, first + 8);
    m.finish_reason = r.optional_text(row, first + 9);
    m.token_count = r.integer(row, first + 10);
    m.input_tokens = r.integer(row, first + 11);
    m.output_tokens = r.integer(row, first + 12);
    m.cost_micros = r.integer(row, first + 13);
    m.latency_ms = r.optional_integer(row, first + 14);
    m.ttft_ms = r.optional_integer(row, first + 15);
    m.metadata = r.text(row, first + 16);
    m.created_at = r.time(row, first + 17).value_or(TimePoint{});
    return m;
}

asio::awaitable<void> insert_conversation_row(PgConnection& c, const Conversation& v) {
    Params p;
    p.text(v.id).text(v.user_id).optional_text(v.title).text(v.model);
    p.optional_text(v.system_prompt).text(v.settings).text(v.metadata);
    p.boolean(v.is_archived).boolean(v.is_pinned).optional_text(v.summary);
    p.time(v.created_at).time(v.updated_at).optional_time(v.summary_updated_at);
    p.optional_text(v.active_leaf_id);
    co_await c.query(
        "INSERT INTO conversations(" + kConversationColumns +
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        p
    );
}

Params message_params(const Message& msg) {
    Params p;
    p.text(msg.id).text(msg.conversation_id).optional_text(msg.parent_id);
    p.text(msg.role).text(msg.content).optional_text(msg.thinking).text(msg.status);
    p.optional_text(msg.model).optional_text(msg.provider).optional_text(msg.finish_reason);
    p.integer(msg.token_count).integer(msg.input_tokens).integer(msg.output_tokens);
    p.integer(msg.cost_micros).optional_integer(msg.latency_ms).optional_integer(msg.ttft_ms);
    p.text(msg.metadata).time(msg.created_at);
    return p;
}

asio::awaitable<Result<void>> PgStore::create_conversation(Conversation conv) {
    co_return co_await run<void>(
        [](PgConnection& c, const Conversation& v) -> asio::awaitable<Result<void>> {
            co_await insert_conversation_row(c, v);
            co_return Result<void>{};
        },
        conv
    );
}

asio::awaitable<Result<std::optional<Conversation>>> PgStore::find_conversation(std::string id) {
    co_return co_await run<std::optional<Conversation>>(
        [](PgConnection& c,
           const std::string& i) -> asio::awaitable<Result<std::optional<Conversation>>> {
            const auto r = co_await c.query(
                "SELECT " + kConversationColumns + " FROM conversations WHERE id = $1",
                Params().text(i)
            );
            if (r.rows() == 0) {
                co_return std::optional<Conversation>{};
            }
            co_return std::optional<Conversation>{read_conversation(r, 0)};
        },
        id
    );
}

asio::awaitable<Result<Page<Conversation>>> PgStore::list_conversations(
    ConversationFilter filter, std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<Page<Conversation>>(
        [](PgConnection& c, const ConversationFilter& f, std::int64_t off, std::int64_t n
        ) -> asio::awaitable<Result<Page<Conversation>>> {
            // The page and its total in one statement, so from one snapshot (SQLite needs a read
            // transaction for that) and in one round trip; the total rides on every row.
            Params p;
            const auto where = filter_clause(f, p);
            const auto limit_at = p.next();
            p.integer(non_negative(n));
            const auto offset_at = p.next();
            p.integer(non_negative(off));
            const auto r = co_await c.query(
                "WITH page AS (SELECT " + kConversationColumns + " FROM conversations" + where +
                    kConversationOrder + " LIMIT " + limit_at + " OFFSET " + offset_at +
                    ") SELECT page.*, (SELECT COUNT(*) FROM conversations" + where + ") FROM page" +
                    kConversationOrder,
                p
            );
            Page<Conversation> page;
            page.items = all_rows<Conversation>(r, read_conversation);
            if (r.rows() > 0) {
                page.total = r.integer(0, kConversationColumnCount);
                co_return page;
            }
            // An empty page (past the end, or nothing at all): the total on its own.
            Params count_params;
            const auto count = co_await c.query(
                "SELECT COUNT(*) FROM conversations" + filter_clause(f, count_params), count_params
            );
            page.total = count.integer(0, 0);
            co_return page;
        },
        filter,
        offset,
        limit
    );
}

asio::awaitable<Result<std::vector<Conversation>>> PgStore::list_conversations_after(
    ConversationFilter filter, std::optional<ConversationCursor> after, std::int64_t limit
) {
    co_return co_await run<std::vector<Conversation>>(
        [](PgConnection& c,
           const ConversationFilter& f,
           const std::optional<ConversationCursor>& cursor,
           std::int64_t n) -> asio::awaitable<Result<std::vector<Conversation>>> {
            Params p;
            auto where = filter_clause(f, p);
            if (cursor) {
                // Strictly after the cursor in (updated_at DESC, id DESC) order.
                where += " AND (updated_at, id) < (" + p.next();
                p.time(cursor->updated_at);
                where += ", " + p.next() + ")";
                p.text(cursor->id);
            }
            const auto limit_at = p.next();
            p.integer(non_negative(n));
            const auto r = co_await c.query(
                "SELECT " + kConversationColumns + " FROM conversations" + where +
                    kConversationOrder + " LIMIT " + limit_at,
                p
            );
            co_return all_rows<Conversation>(r, read_conversation);
        },
        filter,
        after,
        limit
    );
}

asio::awaitable<Result<bool>> PgStore::update_conversation(Conversation conv) {
    co_return co_await run<bool>(
        [](PgConnection& c, const Conversation& v) -> asio::awaitable<Result<bool>> {
            Params p;
            p.optional_text(v.title).text(v.model).optional_text(v.system_prompt);
            p.text(v.settings).text(v.metadata).boolean(v.is_archived).boolean(v.is_pinned);
            p.optional_text(v.summary).time(v.updated_at).optional_time(v.summary_updated_at);
            p.text(v.id);
            const auto r = co_await c.query(
                "UPDATE conversations SET title = $1, model = $2, system_prompt = $3, settings = "
                "$4, metadata = $5, is_archived = $6, is_pinned = $7, summary = $8, updated_at = "
                "$9, summary_updated_at = $10 WHERE id = $11",
                p
            );
            co_return r.affected() == 1;
        },
        conv
    );
}

asio::awaitable<Result<bool>> PgStore::delete_conversation(std::string id) {
    co_return co_await run<bool>(
        [](PgConnection& c, const std::string& i) -> asio::awaitable<Result<bool>> {
            // Messages and session events go with it: ON DELETE CASCADE.
            const auto r =
                co_await c.query("DELETE FROM conversations WHERE id = $1", Params().text(i));
            co_return r.affected() == 1;
        },
        id
    );
}

asio::awaitable<Result<void>> PgStore::insert_message(Message m) {
    co_return co_await run<void>(
        [](PgConnection& c, const Message& msg) -> asio::awaitable<Result<void>> {
            // One statement, so one transaction and one round trip: the conversation moves only
            // if the message goes in. The update comes first: no row means no conversation, told
            // apart from a taken message id (which the foreign key would report the same way).
            const auto p = message_params(msg);
            const auto inserted = co_await c.query(
                "WITH moved AS (UPDATE conversations SET updated_at = $18::timestamptz, "
                "active_leaf_id = $1::text WHERE id = $2::text RETURNING id) INSERT INTO "
                "messages(" +
                    kMessageColumns +
                    ") SELECT $1::text, moved.id, $3::text, $4::text, $5::text, $6::text, "
                    "$7::text, $8::text, $9::text, $10::text, $11::bigint, $12::bigint, "
                    "$13::bigint, $14::bigint, $15::bigint, $16::bigint, $17::text, "
                    "$18::timestamptz FROM moved",
                p
            );
            if (inserted.affected() != 1) {
                co_return make_error(ErrorType::not_found, "conversation not found");
            }
            co_return Result<void>{};
        },
        m
    );
}

asio::awaitable<Result<Page<Message>>> PgStore::list_messages(
    std::string conversation_id, std::int64_t offset, std::int64_t limit
) {
    co_return co_await run<Page<Message>>(
        [](PgConnection& c, const std::string& conversation, std::int64_t off, std::int64_t n
        ) -> asio::awaitable<Result<Page<Message>>> {
            // As list_conversations: the page and its total from one statement.
            const auto r = co_await c.query(
                "WITH page AS (SELECT " + kMessageColumns +
                    " FROM messages WHERE conversation_id = $1 ORDER BY created_at, id LIMIT $2 "
                    "OFFSET $3) SELECT page.*, (SELECT COUNT(*) FROM messages WHERE "
                    "conversation_id = $1) FROM page ORDER BY created_at, id",
                Params().text(conversation).integer(non_negative(n)).integer(non_negative(off))
            );
            Page<Message> page;
            page.items = all_rows<Message>(r, [](const PgResult& res, int row) {
                return read_message(res, row);
            });
            if (r.rows() > 0) {
                page.total = r.integer(0, kMessageColumnCount);
                co_return page;
            }
            const auto count = co_await c.query(
                "SELECT COUNT(*) FROM messages WHERE conversation_id = $1",
                Params().text(conversation)
            );
            page.total = count.integer(0, 0);
            co_return page;
        },
        conversation_id,
        offset,
        limit
    );
}

asio::awaitable<Result<void>> PgStore::insert_usage_record(UsageRecord r) {
    co_return co_await run<void>(
        [](PgConnection& c, const UsageRecord& rec) -> asio::awaitable<Result<void>> {
            Params p;
            p.text(rec.id).text(rec.user_id).optional_text(rec.api_key_id).text(rec.kind);
            p.text(rec.model).text(rec.provider).integer(rec.input_tokens);
            p.integer(rec.output_tokens).integer(rec.cost_micros).time(rec.created_at);
            co_await c.query(
                "INSERT INTO usage_records(id, user_id, api_key_id, kind, model, provider, "
                "input_tokens, output_tokens, cost_micros, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                p
            );
            co_return Result<void>{};
        },
        r
    );
}

asio::awaitable<Result<UsageStats>> PgStore::usage_stats(
    std::string user_id, std::optional<TimePoint> from, std::optional<TimePoint> to
) {
    co_return co_await run<UsageStats>(
        [](PgConnection& c,
           const std::string& user,
           const std::optional<TimePoint>& since,
           const std::optional<TimePoint>& until) -> asio::awaitable<Result<UsageStats>> {
            Params p;
            const auto where = usage_clause(user, since, until, p);
            UsageStats stats;
            co_await c.exec(std::string(kBeginSnapshot));
            const auto conversations = co_await c.query(
                "SELECT COUNT(*) FROM conversations WHERE user_id = $1", Params().text(user)
            );
            stats.conversation_count = conversations.integer(0, 0);

            const auto totals = co_await c.query("SELECT " + kUsageSums + where, p);
            const auto sums = read_usage_row(totals, 0, 0);
            stats.message_count = sums.message_count;
            stats.call_count = sums.call_count;
            stats.input_tokens = sums.input_tokens;
            stats.output_tokens = sums.output_tokens;
            stats.cost_micros = sums.cost_micros;

            const auto by_model = co_await c.query(
                "SELECT u.model, " + kUsageSums + where +
                    " WHERE u.model IS NOT NULL GROUP BY u.model ORDER BY SUM(u.cost) DESC, "
                    "u.model",
                p
            );
            for (int i = 0; i < by_model.rows(); ++i) {
                auto row = read_usage_row(by_model, i, 1);
                row.key = by_model.text(i, 0);
                stats.by_model.push_back(std::move(row));
            }

            // The UTC day, as SQLite's first ten characters of the stored ISO 8601 text.
            const auto by_day = co_await c.query(
                "SELECT to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, " +
                    kUsageSums + where + " GROUP BY day ORDER BY day",
                p
            );
            const auto by_key = co_await c.query(
                "SELECT u.api_key_id, " + kUsageSums + where +
                    " GROUP BY u.api_key_id ORDER BY u.api_key_id NULLS FIRST",
                p
            );
            co_await c.exec("COMMIT");
            for (int i = 0; i < by_key.rows(); ++i) {
                auto row = read_usage_row(by_key, i, 1);
                if (!by_key.is_null(i, 0)) {
                    row.key = by_key.text(i, 0);
                }
                stats.by_key.push_back(std::move(row));
            }
            for (int i = 0; i < by_day.rows(); ++i) {
                auto row = read_usage_row(by_day, i, 1);
                row.key = by_day.text(i, 0);
                stats.by_day.push_back(std::move(row));
            }
            co_return stats;
        },
        user_id,
        from,
        to
    );
}

}  // namespace parley::store::postgres
