// The branch of a message tree found in memory (issue 14), shared by both stores' message_path
// for small conversations: given every message of a conversation as (id, parent) in (parent,
// created_at, id) order, the branch ending at a leaf, oldest first, with each message's sibling
// count and index (the runs of one parent in that order). Internal to store/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

}  // namespace parley::store
