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

namespace {

// What a remembered row costs, near enough: the struct and its texts' heap blocks.
std::size_t bytes_of(const Message& m) {
    std::size_t n = sizeof(Message) + 32;  // and the shared block
    for (const std::string* text :
         {&m.id, &m.conversation_id, &m.role, &m.content, &m.status, &m.metadata}) {
        n += text->capacity();
    }
    for (const auto* text : {&m.parent_id, &m.thinking, &m.model, &m.provider, &m.finish_reason}) {
        n += *text ? (*text)->capacity() : 0;
    }
    return n;
}

// What a remembered place costs: the map's node, its key and the parent's id.
std::size_t bytes_of(const std::string& id, const TreeShapes::Node& node) {
    return 128 + id.capacity() + (node.parent ? node.parent->capacity() : 0);
}

}  // namespace

TreeShapes::Walk TreeShapes::start(std::string leaf, std::int64_t limit, std::int64_t epoch) {
    Walk w;
    w.next = std::move(leaf);
    w.limit = std::max<std::int64_t>(limit, 0);
    w.epoch = epoch;
    return w;
}

bool TreeShapes::same_epoch(std::int64_t epoch) {
    if (epoch > epoch_) {
        shapes_.clear();
        bytes_ = 0;
        epoch_ = epoch;
    }
    return epoch == epoch_;
}

bool TreeShapes::drop_oldest(const Shape* keep) {
    auto oldest = shapes_.end();
    for (auto it = shapes_.begin(); it != shapes_.end(); ++it) {
        if (&it->second != keep &&
            (oldest == shapes_.end() || it->second.used < oldest->second.used)) {
            oldest = it;
        }
    }
    if (oldest == shapes_.end()) {
        return false;
    }
    bytes_ -= oldest->second.bytes;
    shapes_.erase(oldest);
    return true;
}

bool TreeShapes::make_room(const Shape& shape, std::size_t more) {
    while (bytes_ + more > max_bytes_) {
        if (!drop_oldest(&shape)) {
            return false;
        }
    }
    return true;
}

void TreeShapes::extend(const std::string& conversation, Walk& walk) {
    const std::lock_guard lock(mutex_);
    if (!same_epoch(walk.epoch)) {
        return;
    }
    const auto shape = shapes_.find(conversation);
    if (shape == shapes_.end()) {
        return;
    }
    shape->second.used = ++clock_;
    auto& nodes = shape->second.nodes;
    if (walk.done()) {
        return;
    }
    const auto first = nodes.find(*walk.next);
    if (first == nodes.end()) {
        return;
    }
    for (Entry* at = &*first;;) {
        Remembered& r = at->second;
        walk.seqs.push_back(r.node.seq);
        walk.ids.push_back(r.row ? std::string() : at->first);
        walk.rows.push_back(r.row);
        if (!r.node.parent) {
            walk.next.reset();
            return;
        }
        if (walk.done()) {
            walk.next = *r.node.parent;
            return;
        }
        if (r.parent_entry == nullptr) {
            const auto parent = nodes.find(*r.node.parent);
            if (parent == nodes.end()) {
                walk.next = *r.node.parent;  // not known: the caller reads it
                return;
            }
            r.parent_entry = &*parent;
        }
        at = r.parent_entry;
    }
}

TreeShapes::Entry* TreeShapes::place(
    const std::string& conversation, std::string id, Node node, std::int64_t epoch, Shape*& in
) {
    if (!same_epoch(epoch)) {
        return nullptr;
    }
    auto shape = shapes_.find(conversation);
    if (shape == shapes_.end()) {
        if (shapes_.size() >= max_conversations_) {
            drop_oldest(nullptr);
        }
        shape = shapes_.emplace(conversation, Shape{}).first;
    }
    Shape& s = shape->second;
    in = &s;
    s.used = ++clock_;
    if (const auto known = s.nodes.find(id); known != s.nodes.end()) {
        return &*known;
    }
    const std::size_t bytes = bytes_of(id, node);
    if (s.nodes.size() >= max_nodes_ || !make_room(s, bytes)) {
        s.nodes.clear();  // started anew
        bytes_ -= s.bytes;
        s.bytes = 0;
    }
    const auto added = s.nodes.emplace(std::move(id), Remembered{std::move(node), nullptr}).first;
    s.bytes += bytes;
    bytes_ += bytes;
    return &*added;
}

void TreeShapes::keep_row(Shape& shape, Remembered& place, SharedMessage row) {
    if (place.row) {
        return;
    }
    const std::size_t bytes = bytes_of(*row);
    if (!make_room(shape, bytes)) {
        return;  // this conversation alone fills the bound: the row is read again next time
    }
    place.row = std::move(row);
    shape.bytes += bytes;
    bytes_ += bytes;
}

void TreeShapes::add(
    const std::string& conversation, std::string id, Node node, std::int64_t epoch
) {
    const std::lock_guard lock(mutex_);
    Shape* shape = nullptr;
    place(conversation, std::move(id), std::move(node), epoch, shape);
}

void TreeShapes::add(
    const std::string& conversation,
    std::string id,
    Node node,
    SharedMessage row,
    std::int64_t epoch
) {
    const std::lock_guard lock(mutex_);
    Shape* shape = nullptr;
    if (Entry* entry = place(conversation, std::move(id), std::move(node), epoch, shape)) {
        keep_row(*shape, entry->second, std::move(row));
    }
}

void TreeShapes::add_row(
    const std::string& conversation, const std::string& id, SharedMessage row, std::int64_t epoch
) {
    const std::lock_guard lock(mutex_);
    if (!same_epoch(epoch)) {
        return;
    }
    const auto shape = shapes_.find(conversation);
    if (shape == shapes_.end()) {
        return;
    }
    const auto node = shape->second.nodes.find(id);
    if (node != shape->second.nodes.end()) {
        keep_row(shape->second, node->second, std::move(row));
    }
}

std::vector<SharedMessage> TreeShapes::rows(
    const std::string& conversation, const std::vector<std::string_view>& ids, std::int64_t epoch
) {
    std::vector<SharedMessage> out(ids.size());
    const std::lock_guard lock(mutex_);
    if (!same_epoch(epoch)) {
        return out;
    }
    const auto shape = shapes_.find(conversation);
    if (shape == shapes_.end()) {
        return out;
    }
    shape->second.used = ++clock_;
    for (std::size_t k = 0; k < ids.size(); ++k) {
        if (const auto node = shape->second.nodes.find(ids[k]); node != shape->second.nodes.end()) {
            out[k] = node->second.row;
        }
    }
    return out;
}

void TreeShapes::forget(const std::string& conversation) {
    const std::lock_guard lock(mutex_);
    const auto shape = shapes_.find(conversation);
    if (shape != shapes_.end()) {
        bytes_ -= shape->second.bytes;
        shapes_.erase(shape);
    }
}

std::size_t TreeShapes::bytes() const {
    const std::lock_guard lock(mutex_);
    return bytes_;
}

}  // namespace parley::store
