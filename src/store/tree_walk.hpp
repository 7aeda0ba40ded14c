// The branch of a message tree found in memory (issue 14), shared by both stores' message_path
// for small conversations: given every message of a conversation as (id, parent) in (parent,
// created_at, id) order, the branch ending at a leaf, oldest first, with each message's sibling
// count and index (the runs of one parent in that order). And TreeShapes: the (id, parent) links
// of large conversations remembered between reads, so a context read does not walk the branch
// in SQL again. Internal to store/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

// The shape of a few large conversations' trees (issue 14): each message's row key (seq) and
// parent, as the store has read them. A message's parent never changes and a message is only
// deleted with its whole conversation, so what is remembered stays true while the message
// exists; a store still checks the rows it then reads by seq against the ids walked (a deleted
// conversation's seqs can be reused). Bounded: at most `conversations` conversations (the least
// recently walked is dropped) of at most `nodes` messages each (past it, one is started anew).
// Thread-safe.
class TreeShapes {
public:
    struct Node {
        std::int64_t seq = 0;
        std::optional<std::string> parent;  // none: a root
    };

    // A walk up a branch, continued with extend() until done().
    struct Walk {
        std::vector<std::int64_t> seqs;   // leaf first
        std::vector<std::string> ids;     // leaf first
        std::optional<std::string> next;  // the message to step to; none: the walk is over
        std::int64_t limit = 0;

        bool done() const noexcept {
            return !next || static_cast<std::int64_t>(seqs.size()) >= limit;
        }
    };

    explicit TreeShapes(std::size_t conversations = 32, std::size_t nodes = 4'096)
        : max_conversations_(conversations),
          max_nodes_(nodes) {}

    // A walk from `leaf` (the leaf and its ancestors, at most `limit` of them).
    static Walk start(std::string leaf, std::int64_t limit);

    // Steps up from `walk.next` through the messages known, until the walk is over or the next
    // message is not known (then walk.next names it: the caller reads it and add()s it).
    void extend(const std::string& conversation, Walk& walk);

    void add(const std::string& conversation, std::string id, Node node);

    // Forgets the conversation (deleted, or found not to match its rows).
    void forget(const std::string& conversation);

private:
    struct Shape {
        std::unordered_map<std::string, Node> nodes;
        std::uint64_t used = 0;  // when last walked or added to
    };

    std::mutex mutex_;
    std::unordered_map<std::string, Shape> shapes_;
    std::uint64_t clock_ = 0;
    std::size_t max_conversations_;
    std::size_t max_nodes_;
};

}  // namespace parley::store
