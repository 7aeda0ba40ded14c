// The SQLite Store's class, shared by the files that implement its query groups
// (sqlite_store.cpp: migrations and health; sqlite_auth.cpp: users, tokens, keys). Internal to
// store/.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include <sqlite3.h>

#include "async/blocking_pool.hpp"
#include "store/admin_store.hpp"
#include "store/budget_store.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/group_writer.hpp"
#include "store/store.hpp"
#include "store/tree_walk.hpp"

namespace parley::store::sqlite {

// A SQLite failure as Parley's error: a constraint is `conflict`; a lock held past the busy
// timeout (another process writing) and a full or failing disk are `overloaded` (503 with
// Retry-After: the condition passes, the client should retry); anything else is `api`.
Error to_error(const SqliteError& e);

class SqliteStore final : public Store, public AdminStore, public BudgetStore {
public:
    SqliteStore(const std::string& path, async::BlockingPool& pool, std::size_t connections)
        : connections_(path, connections),
          readers_(path),
          pool_(pool),
          writer_(connections_, pool) {}

    std::string_view backend() const noexcept override { return "sqlite"; }

    bool commits_in_groups() const noexcept override { return true; }  // GroupWriter

    bool reads_at_once() const noexcept override { return true; }  // read(), readers_

    Result<std::vector<int>> migrate() override;
    Result<std::vector<int>> applied_migrations() override;
    boost::asio::awaitable<Result<void>> ping() override;

    boost::asio::awaitable<Result<void>> create_user(User user) override;
    boost::asio::awaitable<Result<std::optional<User>>> find_user_by_email(std::string email
    ) override;
    boost::asio::awaitable<Result<std::optional<User>>> find_user(std::string id) override;

    boost::asio::awaitable<Result<void>> insert_refresh_token(RefreshToken token) override;
    boost::asio::awaitable<Result<std::optional<RefreshToken>>> find_refresh_token(
        std::string sha256
    ) override;
    boost::asio::awaitable<Result<bool>> rotate_refresh_token(
        std::string old_id, RefreshToken replacement, TimePoint now
    ) override;
    boost::asio::awaitable<Result<void>> revoke_refresh_family(std::string family_id, TimePoint now)
        override;

    boost::asio::awaitable<Result<void>> create_api_key(ApiKey key) override;
    boost::asio::awaitable<Result<std::vector<ApiKey>>> list_api_keys(std::string user_id) override;
    boost::asio::awaitable<Result<std::optional<ApiKey>>> find_api_key(std::string sha256) override;
    boost::asio::awaitable<Result<bool>> revoke_api_key(
        std::string id, std::string user_id, TimePoint now
    ) override;
    boost::asio::awaitable<Result<void>> touch_api_key(std::string id, TimePoint now) override;

    boost::asio::awaitable<Result<void>> create_conversation(Conversation c) override;
    boost::asio::awaitable<Result<std::optional<Conversation>>> find_conversation(std::string id
    ) override;
    boost::asio::awaitable<Result<Page<Conversation>>> list_conversations(
        ConversationFilter filter, std::int64_t offset, std::int64_t limit
    ) override;
    boost::asio::awaitable<Result<std::vector<Conversation>>> list_conversations_after(
        ConversationFilter filter, std::optional<ConversationCursor> after, std::int64_t limit
    ) override;
    boost::asio::awaitable<Result<bool>> update_conversation(Conversation c) override;
    boost::asio::awaitable<Result<bool>> delete_conversation(std::string id) override;

    boost::asio::awaitable<Result<void>> insert_message(Message m) override;
    boost::asio::awaitable<Result<Page<Message>>> list_messages(
        std::string conversation_id, std::int64_t offset, std::int64_t limit
    ) override;

    boost::asio::awaitable<Result<std::vector<PathMessage>>> message_path(
        std::string conversation_id,
        std::optional<std::string> leaf_id,
        std::int64_t limit,
        Siblings siblings
    ) override;
    boost::asio::awaitable<Result<std::optional<std::string>>> branch_leaf(
        std::string conversation_id, std::string message_id
    ) override;
    boost::asio::awaitable<Result<bool>> set_active_leaf(
        std::string conversation_id, std::string leaf_id
    ) override;
    boost::asio::awaitable<Result<void>> insert_conversation_trees(
        std::vector<ConversationTree> trees
    ) override;
    boost::asio::awaitable<Result<void>> create_share(Share share) override;
    boost::asio::awaitable<Result<std::optional<Share>>> find_share(std::string token) override;
    boost::asio::awaitable<Result<std::vector<Share>>> list_shares(std::string user_id) override;
    boost::asio::awaitable<Result<bool>> revoke_share(
        std::string id, std::string user_id, TimePoint now
    ) override;

    boost::asio::awaitable<Result<void>> insert_session_events(std::vector<SessionEvent> events
    ) override;
    boost::asio::awaitable<Result<std::vector<SessionEvent>>> list_session_events(
        std::string conversation_id, std::optional<std::string> after_id, std::int64_t limit
    ) override;

    boost::asio::awaitable<Result<std::vector<MessageHit>>> search_messages(
        MessageSearch search, std::int64_t offset, std::int64_t limit
    ) override;
    boost::asio::awaitable<Result<Page<ExchangeHit>>> search_exchanges(
        std::string user_id, SearchQuery query, std::int64_t offset, std::int64_t limit
    ) override;
    boost::asio::awaitable<Result<Page<Exchange>>> list_exchanges(
        std::string user_id, std::int64_t offset, std::int64_t limit
    ) override;
    boost::asio::awaitable<Result<std::optional<Exchange>>> find_exchange(
        std::string conversation_id
    ) override;

    boost::asio::awaitable<Result<void>> insert_usage_record(UsageRecord record) override;

    boost::asio::awaitable<Result<UsageStats>> usage_stats(
        std::string user_id, std::optional<TimePoint> from, std::optional<TimePoint> to
    ) override;

    // AdminStore (admin and audit, issue 16)
    boost::asio::awaitable<Result<std::optional<UserAccess>>> find_user_access(std::string user_id
    ) override;
    boost::asio::awaitable<Result<Page<AdminUser>>> list_users(
        std::int64_t offset, std::int64_t limit
    ) override;
    boost::asio::awaitable<Result<bool>> update_user_access(UserAccess access) override;
    boost::asio::awaitable<Result<std::vector<std::string>>> promote_admins(
        std::vector<std::string> emails
    ) override;
    boost::asio::awaitable<Result<std::optional<std::string>>> promote_first_user() override;
    boost::asio::awaitable<Result<void>> insert_audit_events(std::vector<AuditEvent> events
    ) override;
    boost::asio::awaitable<Result<Page<AuditEvent>>> list_audit_events(
        AuditFilter filter, std::int64_t offset, std::int64_t limit
    ) override;
    boost::asio::awaitable<Result<std::vector<ModelDayUsage>>> usage_by_day_and_model(
        std::optional<std::string> user_id,
        std::optional<TimePoint> from,
        std::optional<TimePoint> to
    ) override;

    // BudgetStore (budgets, issue 16)
    boost::asio::awaitable<Result<std::optional<BudgetLimit>>> find_user_budget(std::string user_id
    ) override;
    boost::asio::awaitable<Result<std::optional<BudgetLimit>>> find_key_budget(std::string key_id
    ) override;
    boost::asio::awaitable<Result<bool>> set_key_budget(std::string key_id, BudgetLimit limit)
        override;
    boost::asio::awaitable<Result<BudgetReservation>> reserve_budget(
        std::vector<BudgetCharge> charges, TimePoint now
    ) override;
    boost::asio::awaitable<Result<std::vector<BudgetSpend>>> settle_budget(
        std::vector<BudgetCharge> charges, std::int64_t cost
    ) override;
    boost::asio::awaitable<Result<BudgetSpend>> budget_spend(
        std::string subject, TimePoint period_start
    ) override;

private:
    // Indexes the rows that wait for the full-text indexes (migrations 0008 and 0011) before a
    // search reads them; true when there were any.
    boost::asio::awaitable<Result<bool>> index_pending_search();

    // Runs `fn(Connection&)` on the blocking pool with a pooled connection; SQLite failures become
    // errors by to_error (below) whose detail is the SQLite message.
    template <class T, class F>
    boost::asio::awaitable<Result<T>> run(F fn) {
        co_return co_await async::offload(pool_, [this, &fn]() -> Result<T> {
            try {
                auto lease = connections_.acquire();
                return fn(*lease);
            } catch (const SqliteError& e) {
                return to_error(e);
            }
        });
    }

    // Runs `fn(Connection&)` at once on the calling thread (an I/O thread) with that thread's
    // read-only connection (issue 14). For the short, bounded reads of the request path: a row by
    // key, a page, a conversation's path, a context window. Searches, exports and every write go
    // through run().
    template <class T, class F>
    Result<T> read(F fn) {
        try {
            return fn(readers_.local());
        } catch (const SqliteError& e) {
            return to_error(e);
        }
    }

    ConnectionPool connections_;
    ThreadConnections readers_;
    async::BlockingPool& pool_;
    TreeShapes shapes_;   // context reads of large conversations (issue 14)
    GroupWriter writer_;  // a turn's writes (messages, budget settles), committed together
};

// The columns read_message reads, in its order.
inline constexpr std::string_view kMessageColumns =
    "id, conversation_id, parent_id, role, content, thinking, status, model, provider, "
    "finish_reason, token_count, input_tokens, output_tokens, cost, latency_ms, ttft_ms, "
    "metadata, created_at";

// A message from kMessageColumns, read from column `first` on.
Message read_message(const Statement& st, int first = 0);

// Insert one row each (kConversationColumns with the active leaf; kMessageColumns), nothing else;
// for the callers' own transactions. A message's insert returns its seq. The message waits above
// the full-text watermark: its inserter indexes the batch once it is due (index_batch_due).
void insert_conversation_row(Connection& c, const Conversation& conv);
std::int64_t insert_message_row(Connection& c, const Message& m);

// Whether the newest message (its seq `newest` when the caller knows it) is 64 or more seqs above
// the watermark in messages_fts_indexed (migration 0011): the batch index_messages_above should
// index now.
bool index_batch_due(Connection& c, std::optional<std::int64_t> newest = std::nullopt);

// Indexes for search every message above the watermark in messages_fts_indexed (migration 0011),
// in one statement, and moves the watermark to the newest seq. In the caller's transaction.
void index_messages_above(Connection& c);

// The deletions and updates of messages counted in this snapshot (migration 0009): what the
// rows TreeShapes remembers are valid for.
std::int64_t message_epoch(Connection& c);

// The branch ending at `leaf_id` (absent: the conversation's active leaf), found through `shapes`
// (reading only the messages not remembered yet), without sibling counts; nullopt when the rows
// read do not match what was remembered or cannot be remembered (a snapshot older than the
// shapes', no room), or when more than `most_reads` places and rows would have to be read: the
// caller then walks otherwise. Runs in the caller's read snapshot.
std::optional<std::vector<PathMessage>> path_from_shapes(
    Connection& c,
    TreeShapes& shapes,
    const std::string& conversation_id,
    const std::optional<std::string>& leaf_id,
    std::int64_t limit,
    std::int64_t most_reads = std::numeric_limits<std::int64_t>::max()
);

// Indexes every message above the watermark (index_messages_above) and every title waiting in
// conversations_fts_pending (migration 0008): inserts are indexed 64 at a time. One write
// transaction, so that a search that follows sees every committed row; false (and no
// transaction) when none waits.
bool index_waiting_rows(Connection& c);

// Runs `fn` in a deferred (read) transaction, so that a page and its total, or a total and its
// breakdowns, come from one snapshot even while writers commit in between.
template <class F>
auto in_read_snapshot(Connection& c, F&& fn) {
    c.run_cached("BEGIN");
    try {
        auto out = fn();
        c.run_cached("COMMIT");
        return out;
    } catch (...) {
        c.rollback();
        throw;
    }
}

// Optional columns and parameters: NULL is nullopt.
inline std::optional<std::string> column_optional_text(const Statement& st, int index) {
    if (st.column_is_null(index)) {
        return std::nullopt;
    }
    return st.column_text(index);
}

inline std::optional<std::int64_t> column_optional_int(const Statement& st, int index) {
    if (st.column_is_null(index)) {
        return std::nullopt;
    }
    return st.column_int(index);
}

inline void bind_optional(Statement& st, int index, const std::optional<std::string>& text) {
    if (text) {
        st.bind(index, *text);
    } else {
        st.bind_null(index);
    }
}

inline void bind_optional(Statement& st, int index, const std::optional<std::int64_t>& value) {
    if (value) {
        st.bind(index, *value);
    } else {
        st.bind_null(index);
    }
}

// Binds an optional time as ISO 8601 text or NULL.
void bind_time(Statement& st, int index, const std::optional<TimePoint>& t);

// Reads an ISO 8601 column; nullopt for NULL.
std::optional<TimePoint> column_time(const Statement& st, int index);

}  // namespace parley::store::sqlite
