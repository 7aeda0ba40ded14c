// The message tree and share links on SQLite: a branch read by walking parent_id upwards (a
// recursive CTE; in memory for a small conversation), the newest leaf below a message, the active
// leaf, and a whole conversation written at once (fork, import).
#include <algorithm>

#include "store/sqlite/sqlite_store_impl.hpp"
#include "store/tree_walk.hpp"

namespace parley::store::sqlite {

namespace asio = boost::asio;

namespace {

// Siblings share the parent (roots: no parent) within one conversation; they are ordered oldest
// first, ties by id. `m` is the message whose siblings are counted (itself included, so the
// count is at least 1 and the SUM of its index never NULL).
constexpr std::string_view kSiblings =
    "FROM messages s WHERE s.conversation_id = m.conversation_id AND s.parent_id IS m.parent_id";

// `leaf_id`, or else the conversation's active leaf; none when it has none.
std::optional<std::string> leaf_or_active(
    Connection& c, const std::string& conversation_id, const std::optional<std::string>& leaf_id
) {
    if (leaf_id) {
        return leaf_id;
    }
    auto st = c.prepare("SELECT active_leaf_id FROM conversations WHERE id = ?");
    st.bind(1, conversation_id);
    if (!st.step() || st.column_is_null(0)) {
        return std::nullopt;
    }
    return st.column_text(0);
}

// Reads the rows whose seqs are `seqs` (json_each: one statement) into out[k].message, k being
// the seq's place in `seqs`; a seq with no row leaves its message null. Returns how many rows
// were read.
std::size_t read_rows_by_seq(
    Connection& c, const std::vector<std::int64_t>& seqs, std::vector<PathMessage>& out
) {
    // A few rows (a context read after a turn: its two new messages) by key, one cached statement
    // each: json_each and the IN list's temporary index cost more than the rows themselves.
    constexpr std::size_t kOneByOne = 4;
    if (seqs.size() <= kOneByOne) {
        static const std::string by_seq =
            "SELECT " + std::string(kMessageColumns) + " FROM messages WHERE seq = ?";
        std::size_t read = 0;
        for (std::size_t k = 0; k < seqs.size(); ++k) {
            auto st = c.prepare(by_seq);
            st.bind(1, seqs[k]);
            if (st.step()) {
                out[k].message = std::make_shared<const Message>(read_message(st));
                ++read;
            }
        }
        return read;
    }
    std::vector<std::pair<std::int64_t, std::size_t>> positions;
    positions.reserve(seqs.size());
    std::string list = "[";
    for (std::size_t k = 0; k < seqs.size(); ++k) {
        positions.emplace_back(seqs[k], k);
        if (k > 0) {
            list += ',';
        }
        list += std::to_string(seqs[k]);
    }
    list += ']';
    std::sort(positions.begin(), positions.end());
    auto st = c.prepare(
        "SELECT " + std::string(kMessageColumns) +
        ", seq FROM messages WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq"
    );
    st.bind(1, list);
    std::size_t row = 0;
    std::size_t read = 0;
    while (st.step() && row < positions.size()) {
        const std::int64_t seq = st.column_int(18);
        while (row < positions.size() && positions[row].first < seq) {
            ++row;
        }
        if (row < positions.size() && positions[row].first == seq) {
            out[positions[row].second].message = std::make_shared<const Message>(read_message(st));
            ++row;
            ++read;
        }
    }
    return read;
}

// Fills out[k].message for each place of a branch: with the row remembered[k] where there is one
// (shared, not copied), else with the row whose seq is seqs[k], read in this snapshot (one
// statement for them all).
// The places read, and whether each was found.
struct BranchRowsRead {
    std::vector<std::size_t> places;
    bool all_found = true;
};

BranchRowsRead fill_branch_rows(
    Connection& c,
    const std::vector<SharedMessage>& remembered,
    const std::vector<std::int64_t>& seqs,
    std::vector<PathMessage>& out
) {
    BranchRowsRead r;
    std::vector<std::int64_t> unread_seqs;
    for (std::size_t k = 0; k < out.size(); ++k) {
        if (remembered[k]) {
            out[k].message = remembered[k];
        } else {
            unread_seqs.push_back(seqs[k]);
            r.places.push_back(k);
        }
    }
    if (r.places.empty()) {
        return r;
    }
    std::vector<PathMessage> read(r.places.size());
    r.all_found = read_rows_by_seq(c, unread_seqs, read) == read.size();
    for (std::size_t j = 0; j < read.size(); ++j) {
        out[r.places[j]].message = std::move(read[j].message);
    }
    return r;
}

// The branch ending at `leaf` (absent: the conversation's active leaf) of a small conversation,
// found in memory (store/tree_walk.hpp) from one scan of its covering messages_siblings index;
// its rows are the ones `shapes` remembers, the others read by seq (and then remembered). Same
// rows, order and sibling figures as the recursive query (tests/unit/store/tree_store_test.cpp
// holds them together). Runs inside a read snapshot.
std::vector<PathMessage> path_in_memory(
    Connection& c,
    TreeShapes& shapes,
    const std::string& conversation_id,
    const std::optional<std::string>& leaf_id,
    std::int64_t limit,
    Siblings siblings
) {
    const auto leaf = leaf_or_active(c, conversation_id, leaf_id);
    if (!leaf) {
        return {};
    }
    std::vector<TreeNode> nodes;
    std::vector<std::int64_t> seqs;
    {
        auto st = c.prepare(
            "SELECT seq, id, parent_id FROM messages WHERE conversation_id = ? "
            "ORDER BY parent_id, created_at, id"
        );
        st.bind(1, conversation_id);
        while (st.step()) {
            seqs.push_back(st.column_int(0));
            nodes.push_back(TreeNode{st.column_text(1), column_optional_text(st, 2)});
        }
    }
    const auto branch = walk_branch(nodes, *leaf, limit);
    std::vector<PathMessage> out(branch.size());
    if (branch.empty()) {
        return out;
    }
    const std::int64_t epoch = message_epoch(c);
    std::vector<std::string_view> ids(branch.size());
    std::vector<std::int64_t> branch_seqs(branch.size());
    for (std::size_t k = 0; k < branch.size(); ++k) {
        ids[k] = nodes[branch[k].node].id;
        branch_seqs[k] = seqs[branch[k].node];
        if (siblings == Siblings::counted) {
            out[k].sibling_count = branch[k].sibling_count;
            out[k].sibling_index = branch[k].sibling_index;
        }
    }
    const auto read =
        fill_branch_rows(c, shapes.rows(conversation_id, ids, epoch), branch_seqs, out);
    for (const std::size_t k : read.places) {
        if (!out[k].message) {
            continue;  // not found (cannot happen in one snapshot): not remembered either
        }
        const TreeNode& node = nodes[branch[k].node];
        shapes.add(conversation_id, node.id, {branch_seqs[k], node.parent}, out[k].message, epoch);
    }
    return out;
}

// The branch by the recursive SQL walk: any conversation, with or without sibling counts.
std::vector<PathMessage> path_by_sql_walk(
    Connection& c,
    const std::string& conversation_id,
    const std::optional<std::string>& leaf_id,
    std::int64_t limit,
    Siblings siblings
) {
    // The walk carries each message's rowid (one search by id a step, none after) and yields the
    // leaf first (depth 0): the branch is reversed here, oldest first.
    const auto columns = qualified_columns(kMessageColumns, "m");
    auto st = c.prepare(
        "WITH RECURSIVE path(seq, parent_id, depth) AS ("
        " SELECT seq, parent_id, 0 FROM messages WHERE conversation_id = ?1 AND id = "
        "COALESCE(?2, (SELECT active_leaf_id FROM conversations WHERE id = ?1))"
        " UNION ALL SELECT m.seq, m.parent_id, path.depth + 1 FROM path JOIN "
        "messages m ON m.id = path.parent_id WHERE path.depth + 1 < ?3 AND "
        "m.conversation_id = ?1) "
        "SELECT " +
        columns + ", " +
        (siblings == Siblings::skipped
             ? std::string("4294967296")
             : "(SELECT COUNT(*) * 4294967296 + SUM(s.created_at < m.created_at OR "
               "(s.created_at = m.created_at AND s.id < m.id)) " +
                   std::string(kSiblings) + ")") +
        ", path.depth FROM path JOIN messages m ON m.seq = path.seq"
    );
    st.bind(1, conversation_id);
    if (leaf_id) {
        st.bind(2, *leaf_id);
    } else {
        st.bind_null(2);
    }
    st.bind(3, limit);
    std::vector<std::pair<std::int64_t, PathMessage>> found;
    while (st.step()) {
        PathMessage p;
        p.message = std::make_shared<const Message>(read_message(st));
        // Count and index in one subquery (one index search a message, not two):
        // count × 2^32 + index.
        const std::int64_t siblings_packed = st.column_int(18);
        p.sibling_count = siblings_packed >> 32;
        p.sibling_index = siblings_packed & 0xffff'ffff;
        found.emplace_back(st.column_int(19), std::move(p));
    }
    // The queue yields depth 0, 1, 2, …; sorted anyway, since SQL promises no order.
    const auto by_depth = [](const auto& x, const auto& y) {
        return x.first < y.first;
    };
    if (!std::is_sorted(found.begin(), found.end(), by_depth)) {
        std::stable_sort(found.begin(), found.end(), by_depth);
    }
    std::vector<PathMessage> out;
    out.reserve(found.size());
    for (auto it = found.rbegin(); it != found.rend(); ++it) {
        out.push_back(std::move(it->second));
    }
    return out;
}

}  // namespace

std::optional<std::vector<PathMessage>> path_from_shapes(
    Connection& c,
    TreeShapes& shapes,
    const std::string& conversation_id,
    const std::optional<std::string>& leaf_id,
    std::int64_t limit,
    std::int64_t most_reads
) {
    auto leaf = leaf_or_active(c, conversation_id, leaf_id);
    if (!leaf) {
        return std::vector<PathMessage>{};
    }
    const std::int64_t deletions = message_epoch(c);
    auto walk = TreeShapes::start(std::move(*leaf), limit, deletions);
    std::int64_t reads = 0;  // places and rows read (a message not remembered costs two)
    for (shapes.extend(conversation_id, walk); !walk.done();) {
        if (++reads > most_reads) {
            return std::nullopt;
        }
        // Not remembered yet: read it (as a step of the SQL walk would), then go on.
        auto st =
            c.prepare("SELECT seq, parent_id FROM messages WHERE id = ? AND conversation_id = ?");
        st.bind(1, *walk.next).bind(2, conversation_id);
        if (!st.step()) {
            if (walk.seqs.empty()) {
                return std::vector<PathMessage>{};  // no such message in this conversation
            }
            return std::nullopt;  // a parent that is not there: left to the SQL walk
        }
        shapes.add(
            conversation_id, *walk.next, {st.column_int(0), column_optional_text(st, 1)}, deletions
        );
        const std::size_t walked = walk.seqs.size();
        shapes.extend(conversation_id, walk);
        if (walk.seqs.size() == walked) {
            // Not remembered after all: this snapshot is older than what the shapes hold (a
            // deletion committed meanwhile), or there was no room. Left to the SQL walk, rather
            // than reading the same message again and again.
            return std::nullopt;
        }
    }
    // Oldest first. The rows remembered are shared; the others are read by seq in this snapshot
    // and then remembered. Each row must be the message walked, its parent the one before it (the
    // oldest's, the message the walk stopped at, or none for a root). The epoch keeps what is
    // remembered true; should it not be, the conversation is forgotten and the SQL walk answers.
    std::reverse(walk.seqs.begin(), walk.seqs.end());
    std::reverse(walk.ids.begin(), walk.ids.end());
    std::reverse(walk.rows.begin(), walk.rows.end());
    reads += std::count(walk.rows.begin(), walk.rows.end(), nullptr);
    if (reads > most_reads) {
        return std::nullopt;
    }
    std::vector<PathMessage> out(walk.seqs.size());
    const auto read = fill_branch_rows(c, walk.rows, walk.seqs, out);
    bool matches = read.all_found;  // else a row is missing (null)
    for (std::size_t k = 0; matches && k < out.size(); ++k) {
        const Message& m = *out[k].message;
        const bool linked = k == 0 ? m.parent_id == walk.next
                                   : (m.parent_id && *m.parent_id == out[k - 1].message->id);
        // A remembered row is its place's (kept under its id); a row read by seq must be.
        matches = linked && (walk.rows[k] != nullptr ||
                             (m.id == walk.ids[k] && m.conversation_id == conversation_id));
    }
    if (!matches) {
        shapes.forget(conversation_id);
        return std::nullopt;
    }
    for (const std::size_t k : read.places) {
        shapes.add_row(conversation_id, walk.ids[k], out[k].message, deletions);
    }
    return out;
}

asio::awaitable<Result<std::vector<PathMessage>>> SqliteStore::message_path(
    std::string conversation_id,
    std::optional<std::string> leaf_id,
    std::int64_t limit,
    Siblings siblings
) {
    limit = std::max<std::int64_t>(limit, 0);
    const std::int64_t most = walk_in_memory_at_most(limit);
    // At most `most` messages: true when the conversation is small enough for the in-memory walk.
    const auto small = [&](Connection& c) {
        auto count = c.prepare(
            "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE conversation_id = ? LIMIT ?)"
        );
        count.bind(1, conversation_id).bind(2, most + 1);
        return count.step() && count.column_int(0) <= most;
    };
    // A branch remembered (a context read, of any size of conversation) or a small conversation
    // is read at once on this (I/O) thread with its read-only connection: the walk through the
    // shapes remembered with at most kReadsAtOnce places and rows to read (a message not
    // remembered costs two), or a scan of at most `most` index rows and the rows not remembered,
    // as bounded as a page of the list (issue 14: no hop to the blocking pool and back). A turn's
    // context read is the first: the previous turn's rows were remembered when this process
    // wrote them, so it reads none, where the scan read every message's id and parent at every
    // turn (~6k instructions a message of context, with their strings and hashing).
    constexpr std::int64_t kReadsAtOnce = 16;
    auto at_once = read<std::optional<std::vector<PathMessage>>>(
        [&](Connection& c) -> Result<std::optional<std::vector<PathMessage>>> {
            return in_read_snapshot(c, [&]() -> std::optional<std::vector<PathMessage>> {
                if (siblings == Siblings::skipped && limit > 0) {
                    if (auto found = path_from_shapes(
                            c, shapes_, conversation_id, leaf_id, limit, kReadsAtOnce
                        )) {
                        return found;
                    }
                }
                if (!small(c)) {
                    return std::nullopt;
                }
                return path_in_memory(c, shapes_, conversation_id, leaf_id, limit, siblings);
            });
        }
    );
    if (!at_once) {
        co_return at_once.error();
    }
    if (*at_once) {
        co_return std::move(**at_once);
    }
    co_return co_await run<std::vector<PathMessage>>(
        [&](Connection& c) -> Result<std::vector<PathMessage>> {
            // A large conversation (not counted again: these walks serve any size, and one
            // deleted since reads as empty).
            return in_read_snapshot(c, [&] {
                // A context read (no sibling counts) of a large conversation: through the
                // shapes remembered, which spare the walk's search by text id at every step.
                if (siblings == Siblings::skipped && limit > 0) {
                    if (auto found =
                            path_from_shapes(c, shapes_, conversation_id, leaf_id, limit)) {
                        return std::move(*found);
                    }
                }
                return path_by_sql_walk(c, conversation_id, leaf_id, limit, siblings);
            });
        }
    );
}

asio::awaitable<Result<std::optional<std::string>>> SqliteStore::branch_leaf(
    std::string conversation_id, std::string message_id
) {
    co_return co_await run<std::optional<std::string>>(
        [&](Connection& c) -> Result<std::optional<std::string>> {
            auto st = c.prepare(
                "WITH RECURSIVE down(id, depth) AS ("
                " SELECT id, 0 FROM messages WHERE conversation_id = ?1 AND id = ?2"
                " UNION ALL SELECT (SELECT k.id FROM messages k WHERE k.conversation_id = ?1 AND "
                "k.parent_id = down.id ORDER BY k.created_at DESC, k.id DESC LIMIT 1), "
                "down.depth + 1 FROM down WHERE down.id IS NOT NULL) "
                "SELECT id FROM down WHERE id IS NOT NULL ORDER BY depth DESC LIMIT 1"
            );
            st.bind(1, conversation_id).bind(2, message_id);
            if (!st.step()) {
                return std::optional<std::string>{};
            }
            return std::optional<std::string>{st.column_text(0)};
        }
    );
}

asio::awaitable<Result<bool>> SqliteStore::set_active_leaf(
    std::string conversation_id, std::string leaf_id
) {
    co_return co_await run<bool>([&](Connection& c) -> Result<bool> {
        c.prepare(
             "UPDATE conversations SET active_leaf_id = ?2 WHERE id = ?1 AND EXISTS (SELECT 1 "
             "FROM messages WHERE id = ?2 AND conversation_id = ?1)"
        )
            .bind(1, conversation_id)
            .bind(2, leaf_id)
            .step();
        return sqlite3_changes(c.handle()) == 1;
    });
}

asio::awaitable<Result<void>> SqliteStore::insert_conversation_trees(
    std::vector<ConversationTree> trees
) {
    co_return co_await run<void>([&](Connection& c) -> Result<void> {
        in_transaction(c, [&] {
            for (const auto& tree : trees) {
                insert_conversation_row(c, tree.conversation);
                for (const auto& m : tree.messages) {
                    if (index_batch_due(c, insert_message_row(c, m))) {
                        index_messages_above(c);
                    }
                }
            }
        });
        return {};
    });
}

namespace {

constexpr std::string_view kShareColumns =
    "id, token, user_id, conversation_id, snapshot, created_at, revoked_at";

Share read_share(const Statement& st) {
    Share s;
    s.id = st.column_text(0);
    s.token = st.column_text(1);
    s.user_id = st.column_text(2);
    s.conversation_id = st.column_text(3);
    s.snapshot = st.column_text(4);
    s.created_at = column_time(st, 5).value_or(TimePoint{});
    s.revoked_at = column_time(st, 6);
    return s;
}

}  // namespace

asio::awaitable<Result<void>> SqliteStore::create_share(Share share) {
    co_return co_await run<void>([&](Connection& c) -> Result<void> {
        auto st = c.prepare(
            "INSERT INTO shares(" + std::string(kShareColumns) + ") VALUES (?, ?, ?, ?, ?, ?, ?)"
        );
        st.bind(1, share.id).bind(2, share.token).bind(3, share.user_id);
        st.bind(4, share.conversation_id).bind(5, share.snapshot);
        st.bind(6, to_iso8601(share.created_at));
        bind_time(st, 7, share.revoked_at);
        st.step();
        return {};
    });
}

asio::awaitable<Result<std::optional<Share>>> SqliteStore::find_share(std::string token) {
    co_return co_await run<std::optional<Share>>(
        [&](Connection& c) -> Result<std::optional<Share>> {
            auto st =
                c.prepare("SELECT " + std::string(kShareColumns) + " FROM shares WHERE token = ?");
            st.bind(1, token);
            if (!st.step()) {
                return std::optional<Share>{};
            }
            return std::optional<Share>{read_share(st)};
        }
    );
}

asio::awaitable<Result<std::vector<Share>>> SqliteStore::list_shares(std::string user_id) {
    co_return co_await run<std::vector<Share>>([&](Connection& c) -> Result<std::vector<Share>> {
        auto st = c.prepare(
            "SELECT " + std::string(kShareColumns) +
            " FROM shares WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at DESC, id "
            "DESC"
        );
        st.bind(1, user_id);
        std::vector<Share> out;
        while (st.step()) {
            out.push_back(read_share(st));
        }
        return out;
    });
}

asio::awaitable<Result<bool>> SqliteStore::revoke_share(
    std::string id, std::string user_id, TimePoint now
) {
    co_return co_await run<bool>([&](Connection& c) -> Result<bool> {
        c.prepare(
             "UPDATE shares SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL"
        )
            .bind(1, to_iso8601(now))
            .bind(2, id)
            .bind(3, user_id)
            .step();
        return sqlite3_changes(c.handle()) == 1;
    });
}

std::int64_t message_epoch(Connection& c) {
    auto st = c.prepare("SELECT value FROM message_epoch WHERE id = 1");
    return st.step() ? st.column_int(0) : -1;
}

}  // namespace parley::store::sqlite
