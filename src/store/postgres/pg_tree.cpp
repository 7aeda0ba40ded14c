// The message tree and share links on PostgreSQL, query for query the SQLite store's
// (sqlite_tree.cpp): a branch read by walking parent_id upwards, the newest leaf below a message,
// the active leaf, and a whole conversation written in one transaction (fork, import).
#include <algorithm>

#include "store/postgres/pg_store_impl.hpp"
#include "store/tree_walk.hpp"

namespace parley::store::postgres {

namespace asio = boost::asio;

namespace {

// The sibling count and index of each message `m` on a path: siblings share the parent (roots:
// no parent) within one conversation, oldest first, ties by id. One lateral subquery per message
// whose two arms are each an index range on messages_siblings (conversation, parent); the arm
// for roots runs only for a root. (An OR of the two conditions, or IS NOT DISTINCT FROM, is not
// an index condition: each message's counts then scanned the whole conversation, twice.)
const std::string kSiblingCounts =
    " CROSS JOIN LATERAL (SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE (s.created_at, s.id) < "
    "(m.created_at, m.id)) AS i FROM (SELECT s.created_at, s.id FROM messages s WHERE "
    "s.conversation_id = m.conversation_id AND s.parent_id = m.parent_id UNION ALL SELECT "
    "s.created_at, s.id FROM messages s WHERE s.conversation_id = m.conversation_id AND "
    "s.parent_id IS NULL AND m.parent_id IS NULL) s) siblings";

}  // namespace

asio::awaitable<Result<std::vector<PathMessage>>> PgStore::message_path(
    std::string conversation_id,
    std::optional<std::string> leaf_id,
    std::int64_t limit,
    Siblings siblings
) {
    bool count_siblings = siblings == Siblings::counted;
    co_return co_await run<std::vector<PathMessage>>(
        [](PgConnection& c,
           const std::string& conversation,
           const std::optional<std::string>& leaf,
           std::int64_t n,
           bool counted) -> asio::awaitable<Result<std::vector<PathMessage>>> {
            n = std::max<std::int64_t>(n, 0);
            // With sibling counts (a conversation shown whole), a small conversation is read
            // whole in one statement and walked in memory (store/tree_walk.hpp): the lateral
            // sibling counts were most of the branch query's time. The read stops one row past
            // the most walked in memory, so a larger conversation is told by its row count (and
            // walked in SQL below) without a counting pass first: a third of the statement's
            // PostgreSQL CPU for 50 messages; a larger one reads those rows in vain.
            if (counted) {
                const std::int64_t most = walk_in_memory_at_most(n);
                const auto whole = co_await c.query(
                    "SELECT " + kMessageColumns +
                        ", (SELECT active_leaf_id FROM conversations WHERE id = $1) FROM messages "
                        "WHERE conversation_id = $1 ORDER BY parent_id, created_at, id LIMIT $2",
                    Params().text(conversation).integer(most + 1)
                );
                if (whole.rows() <= most) {
                    std::vector<PathMessage> out;
                    if (whole.rows() == 0) {
                        co_return out;  // no messages: no branch, whatever the leaf
                    }
                    const auto end = leaf ? leaf : whole.optional_text(0, kMessageColumnCount);
                    if (!end) {
                        co_return out;
                    }
                    std::vector<TreeNode> nodes;
                    nodes.reserve(static_cast<std::size_t>(whole.rows()));
                    for (int row = 0; row < whole.rows(); ++row) {
                        nodes.push_back(TreeNode{whole.text(row, 0), whole.optional_text(row, 2)});
                    }
                    for (const auto& step : walk_branch(nodes, *end, n)) {
                        PathMessage p;
                        p.message = std::make_shared<const Message>(
                            read_message(whole, static_cast<int>(step.node))
                        );
                        p.sibling_count = step.sibling_count;
                        p.sibling_index = step.sibling_index;
                        out.push_back(std::move(p));
                    }
                    co_return out;
                }
            }
            // The sibling columns chosen before the co_await (g++ 12 miscompiles `?:` inside one).
            std::string sibling_columns = "1, 0";
            std::string sibling_join;
            if (counted) {
                sibling_columns = "siblings.n, siblings.i";
                sibling_join = kSiblingCounts;
            }
            // The walk carries each message's columns, and finds each parent through a LATERAL
            // subquery with LIMIT 1: the planner cannot turn that into a hash join over the whole
            // table, which a prepared statement planned while the table was small (a generic plan,
            // kept until the next ANALYZE) did for a join, once per step: a 500-message context
            // read cost 50 ms after a few thousand inserts. The index on id serves every step.
            const auto r = co_await c.query(
                "WITH RECURSIVE path AS (SELECT " + kMessageColumns +
                    ", 0 AS depth FROM messages WHERE conversation_id = $1 AND id = COALESCE($2, "
                    "(SELECT active_leaf_id FROM conversations WHERE id = $1)) UNION ALL SELECT " +
                    qualified_columns(kMessageColumns, "p") +
                    ", path.depth + 1 FROM path CROSS JOIN LATERAL (SELECT " + kMessageColumns +
                    " FROM messages WHERE id = path.parent_id LIMIT 1) p WHERE path.depth + 1 < "
                    "$3) SELECT " +
                    qualified_columns(kMessageColumns, "m") + ", " + sibling_columns +
                    " FROM path m" + sibling_join +
                    " WHERE m.conversation_id = $1 ORDER BY m.depth DESC",
                Params().text(conversation).optional_text(leaf).integer(n)
            );
            std::vector<PathMessage> out;
            for (int row = 0; row < r.rows(); ++row) {
                PathMessage p;
                p.message = std::make_shared<const Message>(read_message(r, row));
                p.sibling_count = r.integer(row, kMessageColumnCount);
                p.sibling_index = r.integer(row, kMessageColumnCount + 1);
                out.push_back(std::move(p));
            }
            co_return out;
        },
        conversation_id,
        leaf_id,
        limit,
        count_siblings
    );
}

asio::awaitable<Result<std::optional<std::string>>> PgStore::branch_leaf(
    std::string conversation_id, std::string message_id
) {
    co_return co_await run<std::optional<std::string>>(
        [](PgConnection& c, const std::string& conversation, const std::string& from
        ) -> asio::awaitable<Result<std::optional<std::string>>> {
            const auto r = co_await c.query(
                "WITH RECURSIVE down(id, depth) AS ("
                " SELECT id, 0 FROM messages WHERE conversation_id = $1 AND id = $2"
                " UNION ALL SELECT (SELECT k.id FROM messages k WHERE k.conversation_id = $1 AND "
                "k.parent_id = down.id ORDER BY k.created_at DESC, k.id DESC LIMIT 1), "
                "down.depth + 1 FROM down WHERE down.id IS NOT NULL) "
                "SELECT id FROM down WHERE id IS NOT NULL ORDER BY depth DESC LIMIT 1",
                Params().text(conversation).text(from)
            );
            if (r.rows() == 0) {
                co_return std::optional<std::string>{};
            }
            co_return std::optional<std::string>{r.text(0, 0)};
        },
        conversation_id,
        message_id
    );
}

asio::awaitable<Result<bool>> PgStore::set_active_leaf(
    std::string conversation_id, std::string leaf_id
) {
    co_return co_await run<bool>(
        [](PgConnection& c, const std::string& conversation, const std::string& leaf
        ) -> asio::awaitable<Result<bool>> {
            const auto r = co_await c.query(
                "UPDATE conversations SET active_leaf_id = $2 WHERE id = $1 AND EXISTS (SELECT 1 "
                "FROM messages WHERE id = $2 AND conversation_id = $1)",
                Params().text(conversation).text(leaf)
            );
            co_return r.affected() == 1;
        },
        conversation_id,
        leaf_id
    );
}

asio::awaitable<Result<void>> PgStore::insert_conversation_trees(std::vector<ConversationTree> trees
) {
    co_return co_await run<void>(
        [](PgConnection& c,
           const std::vector<ConversationTree>& all) -> asio::awaitable<Result<void>> {
            // A failure throws; run() rolls the open transaction back.
            co_await c.exec("BEGIN");
            const std::string insert = "INSERT INTO messages(" + kMessageColumns +
                                       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                                       "$12, $13, $14, $15, $16, $17, $18)";
            for (const auto& tree : all) {
                co_await insert_conversation_row(c, tree.conversation);
                for (const auto& m : tree.messages) {
                    co_await c.query(insert, message_params(m));
                }
            }
            co_await c.exec("COMMIT");
            co_return Result<void>{};
        },
        trees
    );
}

namespace {

const std::string kShareColumns =
    "id, token, user_id, conversation_id, snapshot, created_at, revoked_at";

Share read_share(const PgResult& r, int row) {
    Share s;
    s.id = r.text(row, 0);
    s.token = r.text(row, 1);
    s.user_id = r.text(row, 2);
    s.conversation_id = r.text(row, 3);
    s.snapshot = r.text(row, 4);
    s.created_at = r.time(row, 5).value_or(TimePoint{});
    s.revoked_at = r.time(row, 6);
    return s;
}

}  // namespace

asio::awaitable<Result<void>> PgStore::create_share(Share share) {
    co_return co_await run<void>(
        [](PgConnection& c, const Share& s) -> asio::awaitable<Result<void>> {
            Params p;
            p.text(s.id).text(s.token).text(s.user_id).text(s.conversation_id).text(s.snapshot);
            p.time(s.created_at).optional_time(s.revoked_at);
            co_await c.query(
                "INSERT INTO shares(" + kShareColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7)", p
            );
            co_return Result<void>{};
        },
        share
    );
}

asio::awaitable<Result<std::optional<Share>>> PgStore::find_share(std::string token) {
    co_return co_await run<std::optional<Share>>(
        [](PgConnection& c, const std::string& t) -> asio::awaitable<Result<std::optional<Share>>> {
            const auto r = co_await c.query(
                "SELECT " + kShareColumns + " FROM shares WHERE token = $1", Params().text(t)
            );
            if (r.rows() == 0) {
                co_return std::optional<Share>{};
            }
            co_return std::optional<Share>{read_share(r, 0)};
        },
        token
    );
}

asio::awaitable<Result<std::vector<Share>>> PgStore::list_shares(std::string user_id) {
    co_return co_await run<std::vector<Share>>(
        [](PgConnection& c,
           const std::string& user) -> asio::awaitable<Result<std::vector<Share>>> {
            const auto r = co_await c.query(
                "SELECT " + kShareColumns +
                    " FROM shares WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at "
                    "DESC, id DESC",
                Params().text(user)
            );
            std::vector<Share> out;
            for (int row = 0; row < r.rows(); ++row) {
                out.push_back(read_share(r, row));
            }
            co_return out;
        },
        user_id
    );
}

asio::awaitable<Result<bool>> PgStore::revoke_share(
    std::string id, std::string user_id, TimePoint now
) {
    co_return co_await run<bool>(
        [](PgConnection& c, const std::string& share, const std::string& user, const TimePoint& at
        ) -> asio::awaitable<Result<bool>> {
            const auto r = co_await c.query(
                "UPDATE shares SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at "
                "IS NULL",
                Params().time(at).text(share).text(user)
            );
            co_return r.affected() == 1;
        },
        id,
        user_id,
        now
    );
}

}  // namespace parley::store::postgres
