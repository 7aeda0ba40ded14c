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

TreeShapes::Walk TreeShapes::start(std::string leaf, std::int64_t limit) {
    Walk w;
    w.next = std::move(leaf);
    w.limit = std::max<std::int64_t>(limit, 0);
    return w;
}

void TreeShapes::extend(const std::string& conversation, Walk& walk) {
    const std::lock_guard lock(mutex_);
    const auto shape = shapes_.find(conversation);
    if (shape == shapes_.end()) {
        return;
    }
    shape->second.used = ++clock_;
    const auto& nodes = shape->second.nodes;
    while (!walk.done()) {
        const auto node = nodes.find(*walk.next);
        if (node == nodes.end()) {
            return;
        }
        walk.seqs.push_back(node->second.seq);
        walk.ids.push_back(std::move(*walk.next));
        walk.next = node->second.parent;
    }
}

void TreeShapes::add(const std::string& conversation, std::string id, Node node) {
    const std::lock_guard lock(mutex_);
    auto shape = shapes_.find(conversation);
    if (shape == shapes_.end()) {
        if (shapes_.size() >= max_conversations_) {
            const auto oldest =
                std::min_element(shapes_.begin(), shapes_.end(), [](const auto& a, const auto& b) {
                    return a.second.used < b.second.used;
                });
            shapes_.erase(oldest);
        }
        shape = shapes_.emplace(conversation, Shape{}).first;
    }
    shape->second.used = ++clock_;
    if (shape->second.nodes.size() >= max_nodes_) {
        shape->second.nodes.clear();
    }
    shape->second.nodes.insert_or_assign(std::move(id), std::move(node));
}

void TreeShapes::forget(const std::string& conversation) {
    const std::lock_guard lock(mutex_);
    shapes_.erase(conversation);
}

}  // namespace parley::store
