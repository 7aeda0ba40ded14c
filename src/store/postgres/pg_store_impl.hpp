// The PostgreSQL Store's class, shared by the files that implement its query groups
// (pg_store.cpp: migrations and health; pg_auth.cpp: users, tokens, keys; pg_conversations.cpp:
// conversations, messages, usage). Internal to store/.
#pragma once

#include <optional>
#include <string>

#include "store/admin_store.hpp"
#include "store/budget_store.hpp"
#include "store/postgres/pg_connection.hpp"
#include "store/postgres/pg_pool.hpp"
#include "store/store.hpp"

namespace parley::store::postgres {

// The Error a PgError becomes: unavailable and busy are overloaded (503, retry shortly); an
// integrity violation (SQLSTATE class 23) is conflict, as SQLite's constraint failures are;
// anything else is api. The detail carries the server's message.
Error to_error(const PgError& e);

class PgStore final : public Store, public AdminStore, public BudgetStore {
public:
    PgStore(std::string conninfo, PoolOptions options)
        : conninfo_(conninfo),
          pool_(std::move(conninfo), options) {}

    std::string_view backend() const noexcept override { return "postgresql"; }

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
    // Connections open now (for tests).
    std::size_t open_connections() { return pool_.open_connections(); }

private:
    // Runs `co_await fn(connection, args...)` with a pooled connection. A PgError becomes an Error
    // (to_error); a transaction `fn` left open by throwing is rolled back first. `fn` is a
    // capture-less coroutine: `args` are the caller's parameters, alive while it awaits.
    template <class T, class F, class... Args>
    boost::asio::awaitable<Result<T>> run(F fn, Args&... args) {
        std::optional<PgPool::Lease> lease;
        std::optional<Error> failure;
        try {
            lease.emplace(co_await pool_.acquire());
            co_return co_await fn(**lease, args...);
        } catch (const PgError& e) {
            failure = to_error(e);
        }
        if (lease) {
            co_await roll_back_if_open(**lease);
        }
        co_return *failure;
    }

    // ROLLBACK when `c` is inside a (failed) transaction; a failure here only breaks `c`.
    static boost::asio::awaitable<void> roll_back_if_open(PgConnection& c);

    const std::string conninfo_;
    PgPool pool_;
};

// The columns read_message reads, in its order.
inline const std::string kMessageColumns =
    "id, conversation_id, parent_id, role, content, thinking, status, model, provider, "
    "finish_reason, token_count, input_tokens, output_tokens, cost, latency_ms, ttft_ms, "
    "metadata, created_at";

inline constexpr int kMessageColumnCount = 18;

// A message from kMessageColumns, read from column `first` of `row` on.
Message read_message(const PgResult& r, int row, int first = 0);

// Insert one conversation row (with its active leaf), for callers' own transactions.
boost::asio::awaitable<void> insert_conversation_row(PgConnection& c, const Conversation& v);

// A message's kMessageColumns values, $1 to $18 in order.
Params message_params(const Message& msg);

// The tsquery of a conversation-list `q` (the last plain word a prefix, as SQLite's FTS5 query),
// as SQL whose parameters are appended to `p`.
std::string matching_tsquery(const SearchQuery& q, Params& p);

// Begins a read-only transaction whose queries all see one snapshot (a page and its total, usage
// sums and their breakdowns), like the SQLite store's read transaction.
inline constexpr std::string_view kBeginSnapshot =
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

}  // namespace parley::store::postgres
