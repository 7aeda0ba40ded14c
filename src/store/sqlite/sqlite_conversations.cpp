// Conversations, messages and usage statistics on SQLite.
#include <algorithm>

#include "store/sqlite/sqlite_store_impl.hpp"

namespace parley::store::sqlite {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kConversationColumns =
    "id, user_id, title, model, system_prompt, settings, metadata, is_archived, is_pinned, "
    "summary, created_at, updated_at, summary_updated_at, active_leaf_id";

// The conversations' one order, newest activity first; keyset cursors compare in it too.
constexpr std::string_view kConversationOrder = " ORDER BY updated_at DESC, id DESC";

Conversation read_conversation(const Statement& st) {
    Conversation c;
    c.id = st.column_text(0);
    c.user_id = st.column_text(1);
    c.title = column_optional_text(st, 2);
    c.model = st.column_text(3);
    c.system_prompt = column_optional_text(st, 4);
    c.settings = st.column_text(5);
    c.metadata = st.column_text(6);
    c.is_archived = st.column_int(7) != 0;
    c.is_pinned = st.column_int(8) != 0;
    c.summary = column_optional_text(st, 9);
    c.created_at = column_time(st, 10).value_or(TimePoint{});
    c.updated_at = column_time(st, 11).value_or(TimePoint{});
    c.summary_updated_at = column_time(st, 12);
    c.active_leaf_id = column_optional_text(st, 13);
    return c;
}

// The WHERE clause for `f`; bind_filter binds its parameters in the same order.
std::string filter_clause(const ConversationFilter& f) {
    std::string where = " WHERE user_id = ?";
    if (f.archived) {
        where += " AND is_archived = ?";
    }
    if (f.model) {
        where += " AND model = ?";
    }
    if (f.matching) {
        if (!f.matching->has_positive()) {
            where += " AND 0";  // nothing to match: nothing matches
        } else {
            // Both full-text indexes, each asked once (not once per conversation).
            where +=
                " AND (seq IN (SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH ?)"
                " OR id IN (SELECT m.conversation_id FROM messages m WHERE m.seq IN (SELECT rowid "
                "FROM messages_fts WHERE messages_fts MATCH ?)))";
        }
    }
    return where;
}

// Binds filter_clause's parameters from index 1; returns the next free index.
int bind_filter(Statement& st, const ConversationFilter& f) {
    int i = 1;
    st.bind(i++, f.user_id);
    if (f.archived) {
        st.bind(i++, std::int64_t{*f.archived ? 1 : 0});
    }
    if (f.model) {
        st.bind(i++, *f.model);
    }
    if (f.matching && f.matching->has_positive()) {
        const auto match = to_fts5(*f.matching, true);
        st.bind(i++, match);
        st.bind(i++, match);
    }
    return i;
}

// The messages of one user in [from, to), over messages m joined to conversations c.
// Every billed row of the user in [from, to) as one row set `u`: the conversations' messages
// (is_message 1, no key recorded) and the model calls that store no message (usage_records,
// is_message 0, with the key that made them). The user and period filter each branch, so each
// is read through its own index.
std::string usage_clause(const std::optional<TimePoint>& from, const std::optional<TimePoint>& to) {
    const auto period = [&](std::string_view column) {
        std::string out;
        if (from) {
            out += " AND " + std::string(column) + " >= ?";
        }
        if (to) {
            out += " AND " + std::string(column) + " < ?";
        }
        return out;
    };
    return " FROM (SELECT NULL AS api_key_id, m.model AS model, m.input_tokens AS input_tokens, "
           "m.output_tokens AS output_tokens, m.cost AS cost, m.created_at AS created_at, "
           "1 AS is_message FROM messages m JOIN conversations c ON c.id = m.conversation_id "
           "WHERE c.user_id = ?" +
           period("m.created_at") +
           " UNION ALL SELECT r.api_key_id, r.model, r.input_tokens, r.output_tokens, "
           "r.cost_micros, r.created_at, 0 FROM usage_records r WHERE r.user_id = ?" +
           period("r.created_at") + ") u";
}

// Binds usage_clause's parameters: the user and the period, once per branch.
void bind_usage(
    Statement& st,
    const std::string& user_id,
    const std::optional<TimePoint>& from,
    const std::optional<TimePoint>& to
) {
    int i = 1;
    for (int branch = 0; branch < 2; ++branch) {
        st.bind(i++, user_id);
        if (from) {
            st.bind(i++, to_iso8601(*from));
        }
        if (to) {
            st.bind(i++, to_iso8601(*to));
        }
    }
}

constexpr std::string_view kUsageSums =
    "COALESCE(SUM(u.is_message), 0), COALESCE(SUM(1 - u.is_message), 0), "
    "COALESCE(SUM(u.input_tokens), 0), COALESCE(SUM(u.output_tokens), 0), "
    "COALESCE(SUM(u.cost), 0)";

// Reads the five kUsageSums columns starting at `first`.
UsageRow read_usage_row(const Statement& st, int first) {
    UsageRow row;
    row.message_count = st.column_int(first);
    row.call_count = st.column_int(first + 1);
    row.input_tokens = st.column_int(first + 2);
    row.output_tokens = st.column_int(first + 3);
    row.cost_micros = st.column_int(first + 4);
    return row;
}

std::int64_t non_negative(std::int64_t n) {
    return std::max<std::int64_t>(n, 0);
}

// Room for a page's rows up front: growing a vector of conversations moved each row again at
// every doubling (issue 14). Pages hold at most 100.
std::size_t reserved_rows(std::int64_t limit) {
    return static_cast<std::size_t>(std::clamp<std::int64_t>(limit, 0, 100));
}

}  // namespace

Message read_message(const Statement& st, int first) {
    Message m;
    m.id = st.column_text(first + 0);
    m.conversation_id = st.column_text(first + 1);
    m.parent_id = column_optional_text(st, first + 2);
    m.role = st.column_text(first + 3);
    m.content = st.column_text(first + 4);
    m.thinking = column_optional_text(st, first + 5);
    m.status = st.column_text(first + 6);
    m.model = column_optional_text(st, first + 7);
    m.provider = column_optional_text(st, first + 8);
    m.finish_reason = column_optional_text(st, first + 9);
    m.token_count = st.column_int(first + 10);
    m.input_tokens = st.column_int(first + 11);
    m.output_tokens = st.column_int(first + 12);
    m.cost_micros = st.column_int(first + 13);
    m.latency_ms = column_optional_int(st, first + 14);
    m.ttft_ms = column_optional_int(st, first + 15);
    m.metadata = st.column_text(first + 16);
    m.created_at = column_time(st, first + 17).value_or(TimePoint{});
    return m;
}

void insert_conversation_row(Connection& c, const Conversation& conv) {
    auto st = c.prepare(
        "INSERT INTO conversations(" + std::string(kConversationColumns) +
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    st.bind(1, conv.id).bind(2, conv.user_id);
    bind_optional(st, 3, conv.title);
    st.bind(4, conv.model);
    bind_optional(st, 5, conv.system_prompt);
    st.bind(6, conv.settings).bind(7, conv.metadata);
    st.bind(8, std::int64_t{conv.is_archived ? 1 : 0});
    st.bind(9, std::int64_t{conv.is_pinned ? 1 : 0});
    bind_optional(st, 10, conv.summary);
    st.bind(11, to_iso8601(conv.created_at)).bind(12, to_iso8601(conv.updated_at));
    bind_time(st, 13, conv.summary_updated_at);
    bind_optional(st, 14, conv.active_leaf_id);
    st.step();
}

std::int64_t insert_message_row(Connection& c, const Message& m) {
    auto st = c.prepare(
        "INSERT INTO messages(" + std::string(kMessageColumns) +
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    st.bind(1, m.id).bind(2, m.conversation_id);
    bind_optional(st, 3, m.parent_id);
    st.bind(4, m.role).bind(5, m.content);
    bind_optional(st, 6, m.thinking);
    st.bind(7, m.status);
    bind_optional(st, 8, m.model);
    bind_optional(st, 9, m.provider);
    bind_optional(st, 10, m.finish_reason);
    st.bind(11, m.token_count).bind(12, m.input_tokens).bind(13, m.output_tokens);
    st.bind(14, m.cost_micros);
    bind_optional(st, 15, m.latency_ms);
    bind_optional(st, 16, m.ttft_ms);
    st.bind(17, m.metadata).bind(18, to_iso8601(m.created_at));
    st.step();
    return sqlite3_last_insert_rowid(c.handle());
}

// Full-text indexing in batches (migration 0011): the messages above the watermark wait; once the
// newest is 64 past it, they are indexed in one statement (one FTS5 segment: a segment per row
// cost ~236k instructions an insert, migration 0008). Not in a trigger: a trigger's program runs
// at every insert (~8k instructions before its first statement) and begins the full-text table's
// transaction (another commit step) even when it does nothing.
bool index_batch_due(Connection& c, std::optional<std::int64_t> newest) {
    constexpr std::int64_t kBatch = 64;
    // The newest seq is read only when the caller does not know it (an import does: the row it
    // just inserted).
    auto st = c.prepare(
        newest ? std::string_view("SELECT (SELECT seq FROM messages_fts_indexed), NULL")
               : std::string_view(
                     "SELECT (SELECT seq FROM messages_fts_indexed), (SELECT COALESCE(MAX(seq), "
                     "0) FROM messages)"
                 )
    );
    st.step();
    if (st.column_is_null(0)) {
        // Without its row nothing would ever be indexed again, silently.
        throw SqliteError(SQLITE_CORRUPT, "messages_fts_indexed has no row");
    }
    return newest.value_or(st.column_int(1)) >= st.column_int(0) + kBatch;
}

void index_messages_above(Connection& c) {
    c.run_cached(
        "INSERT INTO messages_fts(rowid, content) SELECT seq, content FROM messages "
        "WHERE seq > (SELECT seq FROM messages_fts_indexed) ORDER BY seq"
    );
    // Never down here: only a delete lowers it (the messages_fts_delete trigger).
    c.run_cached(
        "UPDATE messages_fts_indexed SET seq = MAX(seq, (SELECT COALESCE(MAX(seq), 0) FROM "
        "messages))"
    );
}

asio::awaitable<Result<void>> SqliteStore::create_conversation(Conversation conv) {
    co_return co_await run<void>([&conv](Connection& c) -> Result<void> {
        insert_conversation_row(c, conv);
        return {};
    });
}

asio::awaitable<Result<std::optional<Conversation>>> SqliteStore::find_conversation(std::string id
) {
    co_return read<std::optional<Conversation>>(
        [&id](Connection& c) -> Result<std::optional<Conversation>> {
            auto st = c.prepare(
                "SELECT " + std::string(kConversationColumns) + " FROM conversations WHERE id = ?"
            );
            st.bind(1, id);
            if (!st.step()) {
                return std::optional<Conversation>{};
            }
            return std::optional<Conversation>{read_conversation(st)};
        }
    );
}

asio::awaitable<Result<Page<Conversation>>> SqliteStore::list_conversations(
    ConversationFilter filter, std::int64_t offset, std::int64_t limit
) {
    if (filter.matching && filter.matching->has_positive()) {
        auto indexed = co_await index_pending_search();
        if (!indexed) {
            co_return indexed.error();
        }
    }
    co_return read<Page<Conversation>>([&](Connection& c) -> Result<Page<Conversation>> {
        const auto where = filter_clause(filter);
        return in_read_snapshot(c, [&] {
            Page<Conversation> page;
            auto count = c.prepare("SELECT COUNT(*) FROM conversations" + where);
            bind_filter(count, filter);
            count.step();
            page.total = count.column_int(0);

            auto st = c.prepare(
                "SELECT " + std::string(kConversationColumns) + " FROM conversations" + where +
                std::string(kConversationOrder) + " LIMIT ? OFFSET ?"
            );
            const int next = bind_filter(st, filter);
            st.bind(next, non_negative(limit)).bind(next + 1, non_negative(offset));
            page.items.reserve(reserved_rows(limit));
            while (st.step()) {
                page.items.push_back(read_conversation(st));
            }
            return page;
        });
    });
}

asio::awaitable<Result<std::vector<Conversation>>> SqliteStore::list_conversations_after(
    ConversationFilter filter, std::optional<ConversationCursor> after, std::int64_t limit
) {
    if (filter.matching && filter.matching->has_positive()) {
        auto indexed = co_await index_pending_search();
        if (!indexed) {
            co_return indexed.error();
        }
    }
    co_return read<std::vector<Conversation>>(
        [&](Connection& c) -> Result<std::vector<Conversation>> {
            auto where = filter_clause(filter);
            if (after) {
                // Strictly after the cursor in (updated_at DESC, id DESC) order.
                where += " AND (updated_at, id) < (?, ?)";
            }
            auto st = c.prepare(
                "SELECT " + std::string(kConversationColumns) + " FROM conversations" + where +
                std::string(kConversationOrder) + " LIMIT ?"
            );
            int next = bind_filter(st, filter);
            if (after) {
                st.bind(next, to_iso8601(after->updated_at)).bind(next + 1, after->id);
                next += 2;
            }
            st.bind(next, non_negative(limit));
            std::vector<Conversation> out;
            out.reserve(reserved_rows(limit));
            while (st.step()) {
                out.push_back(read_conversation(st));
            }
            return out;
        }
    );
}

asio::awaitable<Result<bool>> SqliteStore::update_conversation(Conversation conv) {
    co_return co_await run<bool>([&conv](Connection& c) -> Result<bool> {
        auto st = c.prepare(
            "UPDATE conversations SET title = ?, model = ?, system_prompt = ?, settings = ?, "
            "metadata = ?, is_archived = ?, is_pinned = ?, summary = ?, updated_at = ?, "
            "summary_updated_at = ? WHERE id = ?"
        );
        bind_optional(st, 1, conv.title);
        st.bind(2, conv.model);
        bind_optional(st, 3, conv.system_prompt);
        st.bind(4, conv.settings).bind(5, conv.metadata);
        st.bind(6, std::int64_t{conv.is_archived ? 1 : 0});
        st.bind(7, std::int64_t{conv.is_pinned ? 1 : 0});
        bind_optional(st, 8, conv.summary);
        st.bind(9, to_iso8601(conv.updated_at));
        bind_time(st, 10, conv.summary_updated_at);
        st.bind(11, conv.id);
        st.step();
        return sqlite3_changes(c.handle()) == 1;
    });
}

asio::awaitable<Result<bool>> SqliteStore::delete_conversation(std::string id) {
    co_return co_await run<bool>([&id](Connection& c) -> Result<bool> {
        // Messages and session events go with it: ON DELETE CASCADE, foreign_keys is on.
        // (What TreeShapes remembers of it goes at the next read: message_epoch counts the delete.)
        c.prepare("DELETE FROM conversations WHERE id = ?").bind(1, id).step();
        return sqlite3_changes(c.handle()) == 1;
    });
}

asio::awaitable<Result<void>> SqliteStore::insert_message(Message m) {
    GroupWriter::Placed placed;
    auto stored = co_await writer_.insert(m, &placed);  // with other turns' writes (group commit)
    if (stored) {
        // The row as a reader would find it (its time as stored), remembered for the next turn's
        // context read, which then reads none of the rows it wrote (issue 14). TreeShapes keeps
        // it only while no deletion has been counted since this transaction's snapshot.
        m.created_at = parse_iso8601(to_iso8601(m.created_at)).value_or(TimePoint{});
        const auto row = std::make_shared<const Message>(std::move(m));
        shapes_.add(row->conversation_id, row->id, {placed.seq, row->parent_id}, row, placed.epoch);
    }
    co_return stored;
}

asio::awaitable<Result<Page<Message>>> SqliteStore::list_messages(
    std::string conversation_id, std::int64_t offset, std::int64_t limit
) {
    co_return read<Page<Message>>([&](Connection& c) -> Result<Page<Message>> {
        return in_read_snapshot(c, [&] {
            Page<Message> page;
            auto count = c.prepare("SELECT COUNT(*) FROM messages WHERE conversation_id = ?");
            count.bind(1, conversation_id).step();
            page.total = count.column_int(0);

            auto st = c.prepare(
                "SELECT " + std::string(kMessageColumns) +
                " FROM messages WHERE conversation_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?"
            );
            st.bind(1, conversation_id).bind(2, non_negative(limit)).bind(3, non_negative(offset));
            while (st.step()) {
                page.items.push_back(read_message(st));
            }
            return page;
        });
    });
}

asio::awaitable<Result<void>> SqliteStore::insert_usage_record(UsageRecord r) {
    co_return co_await run<void>([&r](Connection& c) -> Result<void> {
        auto st = c.prepare(
            "INSERT INTO usage_records(id, user_id, api_key_id, kind, model, provider, "
            "input_tokens, output_tokens, cost_micros, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        st.bind(1, r.id).bind(2, r.user_id);
        bind_optional(st, 3, r.api_key_id);
        st.bind(4, r.kind)
            .bind(5, r.model)
            .bind(6, r.provider)
            .bind(7, r.input_tokens)
            .bind(8, r.output_tokens)
            .bind(9, r.cost_micros)
            .bind(10, to_iso8601(r.created_at));
        st.step();
        return {};
    });
}

asio::awaitable<Result<UsageStats>> SqliteStore::usage_stats(
    std::string user_id, std::optional<TimePoint> from, std::optional<TimePoint> to
) {
    co_return co_await run<UsageStats>([&](Connection& c) -> Result<UsageStats> {
        const auto where = usage_clause(from, to);
        return in_read_snapshot(c, [&] {
            UsageStats stats;
            auto conversations = c.prepare("SELECT COUNT(*) FROM conversations WHERE user_id = ?");
            conversations.bind(1, user_id).step();
            stats.conversation_count = conversations.column_int(0);

            // SUM over INTEGER columns stays an exact 64-bit integer in SQLite (it fails on
            // overflow rather than rounding), so micro-dollar totals are exact.
            auto totals = c.prepare("SELECT " + std::string(kUsageSums) + where);
            bind_usage(totals, user_id, from, to);
            totals.step();
            const auto sums = read_usage_row(totals, 0);
            stats.message_count = sums.message_count;
            stats.call_count = sums.call_count;
            stats.input_tokens = sums.input_tokens;
            stats.output_tokens = sums.output_tokens;
            stats.cost_micros = sums.cost_micros;

            auto by_model = c.prepare(
                "SELECT u.model, " + std::string(kUsageSums) + where +
                " WHERE u.model IS NOT NULL GROUP BY u.model ORDER BY SUM(u.cost) DESC, u.model"
            );
            bind_usage(by_model, user_id, from, to);
            while (by_model.step()) {
                auto row = read_usage_row(by_model, 1);
                row.key = by_model.column_text(0);
                stats.by_model.push_back(std::move(row));
            }

            // Stored times are UTC ISO 8601, so the first ten characters are the UTC day.
            auto by_day = c.prepare(
                "SELECT substr(u.created_at, 1, 10) AS day, " + std::string(kUsageSums) + where +
                " GROUP BY day ORDER BY day"
            );
            bind_usage(by_day, user_id, from, to);
            while (by_day.step()) {
                auto row = read_usage_row(by_day, 1);
                row.key = by_day.column_text(0);
                stats.by_day.push_back(std::move(row));
            }

            // NULL (no key) sorts first in SQLite's ascending order, as in PostgreSQL's
            // NULLS FIRST below.
            auto by_key = c.prepare(
                "SELECT u.api_key_id, " + std::string(kUsageSums) + where +
                " GROUP BY u.api_key_id ORDER BY u.api_key_id"
            );
            bind_usage(by_key, user_id, from, to);
            while (by_key.step()) {
                auto row = read_usage_row(by_key, 1);
                if (!by_key.column_is_null(0)) {
                    row.key = by_key.column_text(0);
                }
                stats.by_key.push_back(std::move(row));
            }
            return stats;
        });
    });
}

}  // namespace parley::store::sqlite
