// The storage boundary. `Store` is what services talk to; SQLite (the embedded default) and
// PostgreSQL (for many instances on one database) implement it. Every query method is a coroutine
// that never blocks the calling I/O thread: SQLite work is offloaded to the blocking pool,
// PostgreSQL runs asynchronously on the caller's io_context.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "store/models.hpp"

namespace parley::async {
class BlockingPool;
}

namespace parley::store {

// A parsed DATABASE_URL.
struct DatabaseUrl {
    enum class Kind { sqlite, postgres };
    Kind kind = Kind::sqlite;
    std::string target;  // the SQLite file path as written, or the PostgreSQL connection URI
};

// Parses `sqlite://PATH` (the path as written: `sqlite:///abs/file.db` is absolute,
// `sqlite://data/x.db` relative to the working directory) or `postgresql://…` / `postgres://…`.
// Errors: invalid_request with a message that says what a valid URL looks like.
Result<DatabaseUrl> parse_database_url(std::string_view url);

// One applied (or pending) schema migration.
struct Migration {
    int version = 0;
    std::string name;
    std::string_view sql;
};

class Store {
public:
    virtual ~Store() = default;

    // "sqlite" or "postgresql".
    virtual std::string_view backend() const noexcept = 0;

    // Whether writes that wait at the same time usually commit together, in one transaction (the
    // SQLite store's group commit), so that a caller with two independent writes gains by
    // starting them side by side. Where each write takes a connection of its own (PostgreSQL),
    // doing so only doubles the caller's demand on the pool.
    virtual bool commits_in_groups() const noexcept { return false; }

    // Whether the short reads of the request path (a row by key, a small conversation's path; a
    // larger one's hops to the pool) run at once on the calling thread (SQLite's per-thread
    // connections), so that two reads side by side take as long as in turn, with two coroutines
    // and a parallel group more. Where each read is a round trip (PostgreSQL), side by side saves
    // one.
    virtual bool reads_at_once() const noexcept { return false; }

    // Applies every migration not yet recorded in schema_migrations, in version order, each in its
    // own transaction. Returns the versions it applied (empty when up to date). Blocking: call at
    // start-up or from `parley migrate`, not from an I/O thread.
    virtual Result<std::vector<int>> migrate() = 0;

    // The versions recorded in schema_migrations, ascending. Blocking, like migrate().
    virtual Result<std::vector<int>> applied_migrations() = 0;

    // A cheap round trip to the database, for health checks. Errors: overloaded when it fails.
    virtual boost::asio::awaitable<Result<void>> ping() = 0;

    // Every query below runs off the I/O thread (or asynchronously) and resumes the caller on its
    // own executor. Errors, unless stated: api (500) when the database fails; its detail is logged;
    // overloaded (503, Retry-After) when the database cannot be reached (PostgreSQL down or
    // restarting) or no connection became free in time.

    // --- users
    // Errors: conflict when the email is taken (case-insensitively).
    virtual boost::asio::awaitable<Result<void>> create_user(User user) = 0;
    virtual boost::asio::awaitable<Result<std::optional<User>>> find_user_by_email(std::string email
    ) = 0;
    virtual boost::asio::awaitable<Result<std::optional<User>>> find_user(std::string id) = 0;

    // --- refresh tokens
    virtual boost::asio::awaitable<Result<void>> insert_refresh_token(RefreshToken token) = 0;
    virtual boost::asio::awaitable<Result<std::optional<RefreshToken>>> find_refresh_token(
        std::string sha256
    ) = 0;
    // Atomically revokes `old_id` (replaced by `replacement.id`) and inserts `replacement`. Returns
    // false, changing nothing, when `old_id` was already revoked (a concurrent or repeated use).
    virtual boost::asio::awaitable<Result<bool>> rotate_refresh_token(
        std::string old_id, RefreshToken replacement, TimePoint now
    ) = 0;
    // Revokes every unrevoked token of the family.
    virtual boost::asio::awaitable<Result<void>> revoke_refresh_family(
        std::string family_id, TimePoint now
    ) = 0;

    // --- API keys
    virtual boost::asio::awaitable<Result<void>> create_api_key(ApiKey key) = 0;
    // The user's keys that are not revoked, newest first.
    virtual boost::asio::awaitable<Result<std::vector<ApiKey>>> list_api_keys(std::string user_id
    ) = 0;
    virtual boost::asio::awaitable<Result<std::optional<ApiKey>>> find_api_key(std::string sha256
    ) = 0;
    // Revokes the user's key; false when the user has no such unrevoked key.
    virtual boost::asio::awaitable<Result<bool>> revoke_api_key(
        std::string id, std::string user_id, TimePoint now
    ) = 0;
    virtual boost::asio::awaitable<Result<void>> touch_api_key(std::string id, TimePoint now) = 0;

    // --- conversations
    virtual boost::asio::awaitable<Result<void>> create_conversation(Conversation c) = 0;
    virtual boost::asio::awaitable<Result<std::optional<Conversation>>> find_conversation(
        std::string id
    ) = 0;
    // Most recently updated first (ties by id, descending); `total` counts every match.
    virtual boost::asio::awaitable<Result<Page<Conversation>>> list_conversations(
        ConversationFilter filter, std::int64_t offset, std::int64_t limit
    ) = 0;
    // Keyset pagination in the same order: the `limit` conversations after `after` (from the
    // start when absent). Stable while conversations are created or updated meanwhile.
    virtual boost::asio::awaitable<Result<std::vector<Conversation>>> list_conversations_after(
        ConversationFilter filter, std::optional<ConversationCursor> after, std::int64_t limit
    ) = 0;
    // Replaces the mutable fields (title, model, system_prompt, settings, metadata, is_archived,
    // is_pinned, summary, summary_updated_at, updated_at); false when there is no such
    // conversation.
    virtual boost::asio::awaitable<Result<bool>> update_conversation(Conversation c) = 0;
    // Deletes it and its messages; false when there is no such conversation.
    virtual boost::asio::awaitable<Result<bool>> delete_conversation(std::string id) = 0;

    // --- messages
    // Inserts the message, moves its conversation's updated_at to the message's created_at and
    // makes it the conversation's active leaf, in one transaction.
    virtual boost::asio::awaitable<Result<void>> insert_message(Message m) = 0;
    // Oldest first.
    virtual boost::asio::awaitable<Result<Page<Message>>> list_messages(
        std::string conversation_id, std::int64_t offset, std::int64_t limit
    ) = 0;

    // --- the message tree (messages/tree.hpp has the rules; migration 0006)
    // The branch that ends at `leaf_id` (absent: the conversation's active leaf), oldest first: the
    // leaf and its ancestors, at most `limit` of them (the newest; older ones are left off), each
    // with its siblings when `siblings` is counted. Empty when the conversation has no such
    // message (or no messages).
    virtual boost::asio::awaitable<Result<std::vector<PathMessage>>> message_path(
        std::string conversation_id,
        std::optional<std::string> leaf_id,
        std::int64_t limit,
        Siblings siblings = Siblings::counted
    ) = 0;
    // The leaf reached from `message_id` by following its newest child at each step (itself when
    // it has no children); nullopt when the conversation has no such message.
    virtual boost::asio::awaitable<Result<std::optional<std::string>>> branch_leaf(
        std::string conversation_id, std::string message_id
    ) = 0;
    // Makes `leaf_id` (a message of the conversation) its active leaf; false when the conversation
    // has no such message. updated_at does not move.
    virtual boost::asio::awaitable<Result<bool>> set_active_leaf(
        std::string conversation_id, std::string leaf_id
    ) = 0;
    // Creates the conversations (active_leaf_id included) and their messages in one transaction:
    // everything or, on any error, nothing. Parents must come before their children. Errors:
    // conflict when an id is taken.
    virtual boost::asio::awaitable<Result<void>> insert_conversation_trees(
        std::vector<ConversationTree> trees
    ) = 0;

    // --- share links
    // Errors: conflict when the id or token is taken.
    virtual boost::asio::awaitable<Result<void>> create_share(Share share) = 0;
    // The link with this token, revoked or not.
    virtual boost::asio::awaitable<Result<std::optional<Share>>> find_share(std::string token) = 0;
    // The user's links that are not revoked, newest first.
    virtual boost::asio::awaitable<Result<std::vector<Share>>> list_shares(std::string user_id) = 0;
    // Revokes the user's link; false when the user has no such unrevoked link.
    virtual boost::asio::awaitable<Result<bool>> revoke_share(
        std::string id, std::string user_id, TimePoint now
    ) = 0;

    // --- session event log
    // Appends events in one transaction (the event log writes them in batches). Errors: not_found
    // when a conversation does not exist (deleted meanwhile); nothing is written then.
    virtual boost::asio::awaitable<Result<void>> insert_session_events(
        std::vector<SessionEvent> events
    ) = 0;
    // A conversation's events oldest first (created_at, then id), after the event `after_id` when
    // given (a cursor: an id from an earlier page), at most `limit`.
    virtual boost::asio::awaitable<Result<std::vector<SessionEvent>>> list_session_events(
        std::string conversation_id, std::optional<std::string> after_id, std::int64_t limit
    ) = 0;

    // --- search (full-text: FTS5 on SQLite, tsvector on PostgreSQL; see search_query.hpp)
    // The user's messages matching `search`, best first (ties: newest first), `limit` from
    // `offset`. A query with nothing to match finds nothing. Ranks differ between the backends in
    // scale (bm25, ts_rank_cd) but order the same way for the same data in the cases tested.
    virtual boost::asio::awaitable<Result<std::vector<MessageHit>>> search_messages(
        MessageSearch search, std::int64_t offset, std::int64_t limit
    ) = 0;
    // The user's conversations with a message matching `query`, best first (by their best
    // message; ties: newest conversation first); `total` counts them all.
    virtual boost::asio::awaitable<Result<Page<ExchangeHit>>> search_exchanges(
        std::string user_id, SearchQuery query, std::int64_t offset, std::int64_t limit
    ) = 0;

    // --- exchanges (seed 003's history)
    // The user's conversations as prompt/response pairs, newest first; `total` counts them all.
    virtual boost::asio::awaitable<Result<Page<Exchange>>> list_exchanges(
        std::string user_id, std::int64_t offset, std::int64_t limit
    ) = 0;
    virtual boost::asio::awaitable<Result<std::optional<Exchange>>> find_exchange(
        std::string conversation_id
    ) = 0;

    // --- usage
    // Records one model call that stores no message (usage_records). Errors: conflict when the
    // id is taken; a foreign-key failure (unknown user or key) is conflict too.
    virtual boost::asio::awaitable<Result<void>> insert_usage_record(UsageRecord record) = 0;

    // Totals over the user's messages and usage records created in [from, to) (either bound
    // optional), with breakdowns by model, by UTC day and by API key (messages count under no
    // key: they do not record one); conversation_count counts the user's conversations.
    virtual boost::asio::awaitable<Result<UsageStats>> usage_stats(
        std::string user_id, std::optional<TimePoint> from, std::optional<TimePoint> to
    ) = 0;
};

// "a, b" with each column prefixed by `table` ("m.a, m.b"), for joins that name the same columns as
// a store's column list.
std::string qualified_columns(std::string_view columns, std::string_view table);

// How open_store sizes the store.
struct StoreOptions {
    // PostgreSQL: at most this many connections per process (DATABASE_POOL_SIZE); operations
    // beyond it queue for the next free one. SQLite keeps its own small pool.
    std::size_t pool_size = 10;
};

// Opens the store a DATABASE_URL names: SQLite for sqlite://, PostgreSQL for postgresql:// and
// postgres:// (connecting lazily, on the first query or migrate()). `pool` runs blocking work
// (SQLite) and must outlive the store. Errors: overloaded when the SQLite file cannot be opened;
// invalid_request when a PostgreSQL URL cannot be parsed.
Result<std::unique_ptr<Store>> open_store(
    const DatabaseUrl& url, async::BlockingPool& pool, const StoreOptions& options = {}
);

}  // namespace parley::store
