#include "search/service.hpp"

#include "conversations/cursor.hpp"

namespace parley::search {

namespace asio = boost::asio;

SearchService::SearchService(store::Store& store, conversations::ConversationService& conversations)
    : store_(store),
      conversations_(conversations) {}

asio::awaitable<Result<MessageResults>> SearchService::messages(
    const Principal& who, MessageQuery q
) {
    std::int64_t offset = 0;
    if (q.cursor && !q.cursor->empty()) {
        const auto decoded = conversations::decode_offset_cursor(*q.cursor);
        if (!decoded) {
            co_return make_error(ErrorType::unprocessable, "cursor is not one this server issued");
        }
        offset = *decoded;
    }
    if (q.conversation_id) {
        if (auto owned = co_await conversations_.get(who, *q.conversation_id); !owned) {
            co_return owned.error();
        }
    }
    store::MessageSearch s;
    s.user_id = who.user_id;
    s.query = store::parse_search_query(q.text);
    s.conversation_id = std::move(q.conversation_id);
    s.role = std::move(q.role);
    s.from = q.from;
    s.to = q.to;
    s.include_archived = q.include_archived;
    // One more than asked tells whether another page follows.
    auto hits = co_await store_.search_messages(std::move(s), offset, q.limit + 1);
    if (!hits) {
        co_return hits.error();
    }
    MessageResults out;
    out.hits = std::move(*hits);
    if (static_cast<std::int64_t>(out.hits.size()) > q.limit) {
        out.hits.resize(static_cast<std::size_t>(q.limit));
        out.next_cursor = conversations::encode_offset_cursor(offset + q.limit);
    }
    co_return out;
}

asio::awaitable<Result<store::Page<store::Exchange>>> SearchService::history(
    const Principal& who, std::int64_t offset, std::int64_t limit
) {
    co_return co_await store_.list_exchanges(who.user_id, offset, limit);
}

asio::awaitable<Result<store::Exchange>> SearchService::exchange(
    const Principal& who, std::string conversation_id
) {
    auto found = co_await store_.find_exchange(std::move(conversation_id));
    if (!found) {
        co_return found.error();
    }
    if (!*found) {
        co_return make_error(ErrorType::not_found, "conversation not found");
    }
    if ((*found)->user_id != who.user_id) {
        co_return make_error(ErrorType::permission, "this conversation belongs to another user");
    }
    co_return std::move(**found);
}

asio::awaitable<Result<store::Page<store::ExchangeHit>>> SearchService::exchanges(
    const Principal& who, std::string text, std::int64_t offset, std::int64_t limit
) {
    co_return co_await store_.search_exchanges(
        who.user_id, store::parse_search_query(text), offset, limit
    );
}

}  // namespace parley::search
