// Finding things in a user's own conversations: full-text search over their messages
// (GET /api/v1/search), and seed 003's view of conversations as prompt/response pairs (/history,
// /search). Every result belongs to the caller; nobody ever sees another user's hit. No HTTP types.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "common/principal.hpp"
#include "conversations/service.hpp"
#include "store/store.hpp"

namespace parley::search {

struct MessageQuery {
    std::string text;  // as typed into a search box (store/search_query.hpp)
    std::int64_t limit = 20;
    std::optional<std::string> cursor;
    std::optional<std::string> conversation_id;
    std::optional<std::string> role;
    std::optional<TimePoint> from;
    std::optional<TimePoint> to;
    bool include_archived = false;
};

struct MessageResults {
    std::vector<store::MessageHit> hits;  // snippets still marked (store::snippet_html turns them)
    std::optional<std::string> next_cursor;  // absent on the last page
};

class SearchService {
public:
    SearchService(store::Store& store, conversations::ConversationService& conversations);

    // The caller's messages matching `q`, best first. Errors: unprocessable for a cursor this
    // server did not issue; not_found / permission for a conversation_id that is not the caller's.
    boost::asio::awaitable<Result<MessageResults>> messages(const Principal& who, MessageQuery q);

    // The caller's conversations as prompt/response pairs, newest first.
    boost::asio::awaitable<Result<store::Page<store::Exchange>>> history(
        const Principal& who, std::int64_t offset, std::int64_t limit
    );

    // One of them. Errors: not_found (unknown), permission (another user's).
    boost::asio::awaitable<Result<store::Exchange>> exchange(
        const Principal& who, std::string conversation_id
    );

    // The caller's conversations with a message matching `text`, best first.
    boost::asio::awaitable<Result<store::Page<store::ExchangeHit>>> exchanges(
        const Principal& who, std::string text, std::int64_t offset, std::int64_t limit
    );

private:
    store::Store& store_;
    conversations::ConversationService& conversations_;
};

}  // namespace parley::search
