#include "store/tree_walk.hpp"

#include <algorithm>
#include <unordered_map>

namespace parley::store {

std::int64_t walk_in_memory_at_most(std::int64_t limit) {
    return std::min(kWalkInMemory, kWalkPerLimit * std::max<std::int64_t>(limit, 1));
}

std::vector<BranchStep> walk_branch(
    const std::vector<TreeNode>& nodes, std::string_view leaf, std::int64_t limit
) {
    std::unordered_map<std::string_view, std::size_t> by_id;
    by_id.reserve(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        by_id.emplace(nodes[i].id, i);
    }
    std::vector<BranchStep> branch;  // leaf first
    auto at = by_id.find(leaf);
    while (at != by_id.end()) {
        branch.push_back(BranchStep{at->second});
        const auto& parent = nodes[at->second].parent;
        if (!parent || static_cast<std::int64_t>(branch.size()) >= limit) {
            break;
        }
        at = by_id.find(*parent);
    }
    std::reverse(branch.begin(), branch.end());
    for (auto& step : branch) {
        // The run of siblings around the node: the nodes next to it with the same parent.
        std::size_t first = step.node;
        while (first > 0 && nodes[first - 1].parent == nodes[step.node].parent) {
            --first;
        }
        std::size_t end = step.node + 1;
        while (end < nodes.size() && nodes[end].parent == nodes[step.node].parent) {
            ++end;
        }
        step.sibling_count = static_cast<std::int64_t>(end - first);
        step.sibling_index = static_cast<std::int64_t>(step.node - first);
    }
    return branch;
}

}  // namespace parley::store
