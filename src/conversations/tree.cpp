// ConversationService's message-tree operations: the branch a conversation shows, switching
// branches, and forking.
#include <unordered_map>

#include "common/ids.hpp"
#include "conversations/service.hpp"

namespace parley::conversations {

namespace asio = boost::asio;

namespace {

// A fork copies at most this many messages (the path up to the chosen message).
constexpr std::int64_t kMaxForkDepth = 100'000;

}  // namespace

asio::awaitable<Result<std::vector<store::PathMessage>>> ConversationService::branch(
    const store::Conversation& c, std::optional<std::string> from, std::int64_t limit
) {
    std::optional<std::string> leaf;
    if (from) {
        auto found = co_await store_.branch_leaf(c.id, std::move(*from));
        if (!found) {
            co_return found.error();
        }
        if (!*found) {
            co_return make_error(ErrorType::not_found, "message not found in this conversation");
        }
        leaf = std::move(*found);
    }
    co_return co_await store_.message_path(c.id, std::move(leaf), limit);
}

asio::awaitable<Result<void>> ConversationService::switch_leaf(
    store::Conversation& c, std::string message_id
) {
    auto leaf = co_await store_.branch_leaf(c.id, std::move(message_id));
    if (!leaf) {
        co_return leaf.error();
    }
    if (!*leaf) {
        co_return make_error(ErrorType::not_found, "message not found in this conversation");
    }
    auto set = co_await store_.set_active_leaf(c.id, **leaf);
    if (!set) {
        co_return set.error();
    }
    if (!*set) {
        co_return make_error(ErrorType::not_found, "message not found in this conversation");
    }
    c.active_leaf_id = std::move(*leaf);
    co_return Result<void>{};
}

asio::awaitable<Result<Fork>> ConversationService::fork(
    const Principal& who, std::string_view id, std::string message_id
) {
    auto source = co_await get(who, id);
    if (!source) {
        co_return source.error();
    }
    auto path = co_await store_.message_path(source->id, std::move(message_id), kMaxForkDepth);
    if (!path) {
        co_return path.error();
    }
    if (path->empty()) {
        co_return make_error(ErrorType::not_found, "message not found in this conversation");
    }
    Fork out;
    store::Conversation& c = out.conversation;
    c = *source;
    c.id = new_uuid_v7();
    c.created_at = clock_();
    c.updated_at = c.created_at;
    c.summary.reset();  // it summarised the whole source conversation
    c.summary_updated_at.reset();
    std::vector<store::Message> copies;
    std::unordered_map<std::string, std::string> new_ids;
    for (const auto& p : *path) {
        store::Message m = *p.message;
        m.id = new_uuid_v7();
        new_ids[p.message->id] = m.id;
        m.conversation_id = c.id;
        if (m.parent_id) {
            // The oldest message kept may have had a parent beyond the fork's depth: a root now.
            const auto it = new_ids.find(*m.parent_id);
            m.parent_id = it == new_ids.end() ? std::nullopt : std::optional(it->second);
        }
        copies.push_back(m);
        // one branch: no siblings
        out.messages.push_back({std::make_shared<const store::Message>(std::move(m)), 1, 0});
    }
    c.active_leaf_id = copies.back().id;
    std::vector<store::ConversationTree> trees{{c, std::move(copies)}};
    if (auto stored = co_await store_.insert_conversation_trees(std::move(trees)); !stored) {
        co_return stored.error();
    }
    co_return out;
}

}  // namespace parley::conversations
