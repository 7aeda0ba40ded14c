// The branch of a message tree found in memory (issue 14), shared by both stores' message_path
// for small conversations: given every message of a conversation as (id, parent) in (parent,
// created_at, id) order, the branch ending at a leaf, oldest first, with each message's sibling
// count and index (the runs of one parent in that order). And TreeShapes: the (id, parent) links
// of large conversations, and their rows, remembered between reads, so a context read neither
// walks the branch in SQL nor reads its rows again. Internal to store/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/string_map.hpp"
#include "store/models.hpp"

namespace parley::store {

// A message of the tree, as the walk needs it.
struct TreeNode {
    std::string id;
    std::optional<std::string> parent;  // none: a root
};

// One message of a branch: its index in the nodes, and its place among its siblings.
struct BranchStep {
    std::size_t node = 0;
    std::int64_t sibling_count = 1;
    std::int64_t sibling_index = 0;
};

// A conversation at most this large (and at most kWalkPerLimit × the read's limit) is read whole
// and walked in memory: a step of a recursive walk costs an index search by text id, a row of a
// scan a fraction of it. Beyond it (many branches, or a short read of a long conversation) the
// stores walk in SQL and read only the branch.
inline constexpr std::int64_t kWalkInMemory = 256;
inline constexpr std::int64_t kWalkPerLimit = 4;

// The most messages a read of `limit` walks in memory.
std::int64_t walk_in_memory_at_most(std::int64_t limit);

// The branch ending at `leaf`: the leaf and its ancestors (up to the first parent that is not
// among `nodes`), the newest `limit` of them (the leaf always), oldest first. Empty when `leaf`
// is not among `nodes`. `nodes` must be in (parent, created_at, id) order, roots together.
std::vector<BranchStep> walk_branch(
    const std::vector<TreeNode>& nodes, std::string_view leaf, std::int64_t limit
);

// The shape of recently read conversations' trees (issue 14): each message's row key (seq) and
// parent, as the store has read them, and the rows themselves once a branch has been read. A
// message is never updated, and is only deleted with its whole conversation; the database counts
// every deletion or update of a message (SQLite migration 0009's `message_epoch`), and a reader
// passes the count its snapshot sees: a count other than the one the shapes were filled at
// forgets them all (a newer one) or leaves them unused (an older snapshot), so what is served is
// what the reader's snapshot holds, whichever process wrote or deleted (so a deleted conversation
// needs no forget()). Bounded: at most `conversations` conversations (the
// least recently used is dropped) of at most `nodes` messages each (past it, one is started
// anew), and at most `bytes` of places and rows in all (past it, the least recently used
// conversations are dropped, then the one being added to is started anew, or a row is not
// remembered). Thread-safe.
class TreeShapes {
public:
    struct Node {
        std::int64_t seq = 0;
        std::optional<std::string> parent;  // none: a root
    };

    // A walk up a branch, continued with extend() until done().
    struct Walk {
        std::vector<std::int64_t> seqs;   // leaf first
        std::vector<std::string> ids;     // leaf first; empty where the row is remembered
        std::vector<SharedMessage> rows;  // leaf first; null: not remembered
        std::optional<std::string> next;  // the message to step to; none: the walk is over
        std::int64_t limit = 0;
        std::int64_t epoch = 0;  // the deletions counted in the reader's snapshot

        bool done() const noexcept {
            return !next || static_cast<std::int64_t>(seqs.size()) >= limit;
        }
    };

    explicit TreeShapes(
        std::size_t conversations = 1'024, std::size_t nodes = 4'096, std::size_t bytes = 32 << 20
    )
        : max_conversations_(conversations),
          max_nodes_(nodes),
          max_bytes_(bytes) {}

    // A walk from `leaf` (the leaf and its ancestors, at most `limit` of them), by a reader whose
    // snapshot counts `epoch` message deletions and updates.
    static Walk start(std::string leaf, std::int64_t limit, std::int64_t epoch);

    // Steps up from `walk.next` through the messages known, until the walk is over or the next
    // message is not known (then walk.next names it: the caller reads it and add()s it). A step
    // from a message to its parent is found by id once, then followed as a link (issue 14: a
    // context read walks hundreds of steps).
    void extend(const std::string& conversation, Walk& walk);

    // Remembers a message's place, read in a snapshot that counted `epoch` (a place already known
    // is the same: a message id is unique and its row never changes within one count).
    void add(const std::string& conversation, std::string id, Node node, std::int64_t epoch);

    // Remembers a message's place and its row at once (one lock, one search): a row read for a
    // place not known yet (the small conversations' scan).
    void add(
        const std::string& conversation,
        std::string id,
        Node node,
        SharedMessage row,
        std::int64_t epoch
    );

    // Remembers a known message's row (shared with its reader, not copied), read in a snapshot
    // that counted `epoch`.
    void add_row(
        const std::string& conversation,
        const std::string& id,
        SharedMessage row,
        std::int64_t epoch
    );

    // The rows remembered for `ids` (null where none), for a reader whose snapshot counts
    // `epoch`: a branch found otherwise (the small conversations' scan) whose rows may be known.
    std::vector<SharedMessage> rows(
        const std::string& conversation,
        const std::vector<std::string_view>& ids,
        std::int64_t epoch
    );

    // Forgets the conversation (its rows did not match what was remembered).
    void forget(const std::string& conversation);

    // What the places and rows remembered take, near enough (for tests and figures).
    std::size_t bytes() const;

private:
    struct Remembered;
    using Entry = std::pair<const std::string, Remembered>;

    struct Remembered {
        Node node;
        SharedMessage row;
        // The parent's entry once a walk has found it: a shape's entries are only ever dropped
        // all together, so the link lives exactly as long as both ends.
        Entry* parent_entry = nullptr;
    };

    struct Shape {
        StringMap<Remembered> nodes;  // found by a view of the id: no key built
        std::size_t bytes = 0;
        std::uint64_t used = 0;  // when last walked or added to
    };

    // A newer count forgets everything; true when `epoch` is the one remembered (then the
    // shapes may be used and added to). Under mutex_.
    bool same_epoch(std::int64_t epoch);
    // The entry of `id` in `conversation`'s shape (`in`), added if new; null when `epoch` is not
    // the one remembered. Under mutex_.
    Entry* place(
        const std::string& conversation, std::string id, Node node, std::int64_t epoch, Shape*& in
    );
    // Keeps `row` for `place` of `shape` unless it has one or the bound forbids. Under mutex_.
    void keep_row(Shape& shape, Remembered& place, SharedMessage row);
    // Drops the least recently used shape other than `keep`; false when there is none. Under
    // mutex_.
    bool drop_oldest(const Shape* keep);
    // Makes room for `more` bytes beside `shape`'s, dropping other shapes; false when even that
    // is not enough. Under mutex_.
    bool make_room(const Shape& shape, std::size_t more);

    mutable std::mutex mutex_;
    std::unordered_map<std::string, Shape> shapes_;
    std::uint64_t clock_ = 0;
    std::int64_t epoch_ = 0;
    std::size_t bytes_ = 0;
    std::size_t max_conversations_;
    std::size_t max_nodes_;
    std::size_t max_bytes_;
};

}  // namespace parley::store
