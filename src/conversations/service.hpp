// Conversations: creation with a validated model and settings, listing (page or cursor), reading,
// updating and deleting — each checked against the caller: an unknown id is not_found, another
// user's conversation is permission (ARCHITECTURE §9). No HTTP types here.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "common/error.hpp"
#include "common/principal.hpp"
#include "common/time.hpp"
#include "events/bus.hpp"
#include "llm/router.hpp"
#include "store/store.hpp"

namespace parley::conversations {

struct Settings {
    std::optional<double> temperature;
    std::optional<std::int64_t> max_tokens;
    std::optional<bool> thinking;
    // The tools offered to the model in this conversation (registry names); absent: none.
    std::optional<std::vector<std::string>> tools;
    // Routing strategies (seed 004, sessions/routing.hpp) shape the system prompt and generation
    // settings of each answer. Absent: off, except in seed 004 sessions, which are created with
    // it on.
    std::optional<bool> routing;
};

struct NewConversation {
    std::optional<std::string> id;  // chosen by the server (session keys); a new UUIDv7 when absent
    std::optional<std::string> title;
    std::optional<std::string> model;
    std::optional<std::string> system_prompt;
    std::string metadata = "{}";  // a JSON object, already validated
    Settings settings;
};

// Only the fields present are changed; `title`/`system_prompt` may be set to null.
struct ConversationPatch {
    std::optional<std::optional<std::string>> title;
    std::optional<std::optional<std::string>> system_prompt;
    std::optional<std::string> model;
    std::optional<std::string> metadata;
    std::optional<bool> is_archived;
    std::optional<bool> is_pinned;
    std::optional<std::vector<std::string>> tools;  // an empty list offers none
    std::optional<bool> routing;
    // Switch branches: the active leaf becomes the leaf reached from this message (its newest
    // descendant, following the newest child at each step).
    std::optional<std::string> active_leaf;
};

// POST …/fork: the conversation copied up to a message.
struct Fork {
    store::Conversation conversation;
    std::vector<store::PathMessage> messages;  // the copied path, oldest first
};

struct CursorPage {
    std::vector<store::Conversation> items;
    std::optional<std::string> next_cursor;  // absent on the last page
};

// The id of the conversation that session key `key` names for `user_id` (a UUIDv8 derived from
// both, so every instance finds the same conversation without a lookup table).
std::string session_conversation_id(std::string_view user_id, std::string_view key);

// The settings stored with a conversation, parsed.
Settings parse_settings(std::string_view json);

class ConversationService {
public:
    // `bus` (optional) receives conversation.updated, conversation.deleted and title.updated.
    ConversationService(
        store::Store& store,
        const llm::ModelRouter& router,
        events::EventBus* bus = nullptr,
        Clock clock = system_now
    );

    // The tools conversations may offer (the registry's names), for validating `tools`. Call
    // before serving.
    void set_tool_names(std::vector<std::string> names) { tool_names_ = std::move(names); }

    // Errors: unprocessable (unknown or unavailable model, settings out of range, unknown tool).
    boost::asio::awaitable<Result<store::Conversation>> create(
        const Principal& who, NewConversation spec
    );

    boost::asio::awaitable<Result<store::Page<store::Conversation>>> list(
        const Principal& who,
        store::ConversationFilter filter,
        std::int64_t offset,
        std::int64_t limit
    );

    // Cursor pagination. Errors: unprocessable for a cursor this server did not issue.
    boost::asio::awaitable<Result<CursorPage>> list_after(
        const Principal& who,
        store::ConversationFilter filter,
        std::optional<std::string> cursor,
        std::int64_t limit
    );

    // The caller's conversation. Errors: not_found (unknown or malformed id), permission.
    boost::asio::awaitable<Result<store::Conversation>> get(
        const Principal& who, std::string_view id
    );

    // Errors: as get, and unprocessable for an unknown model.
    boost::asio::awaitable<Result<store::Conversation>> update(
        const Principal& who, std::string_view id, ConversationPatch patch
    );

    // Errors: as get.
    boost::asio::awaitable<Result<void>> remove(const Principal& who, std::string_view id);

    // A page of a conversation's messages, oldest first (the conversation already checked).
    boost::asio::awaitable<Result<store::Page<store::Message>>> messages(
        const store::Conversation& c, std::int64_t offset, std::int64_t limit
    );

    // --- the message tree (conversations/tree.cpp; the rules are in messages/tree.hpp)
    // The branch the conversation shows, oldest first with siblings: the path to the leaf reached
    // from `from` (?leaf=; its newest descendant), else to the active leaf; at most `limit`
    // messages, the newest. Errors: not_found when `from` is no message of the conversation.
    boost::asio::awaitable<Result<std::vector<store::PathMessage>>> branch(
        const store::Conversation& c, std::optional<std::string> from, std::int64_t limit
    );

    // A new conversation of the caller holding a copy of the path up to `message_id` (new ids,
    // same content, settings and timestamps), its active leaf the copy of that message.
    // Errors: as get; not_found when the message is not in the conversation.
    boost::asio::awaitable<Result<Fork>> fork(
        const Principal& who, std::string_view id, std::string message_id
    );

    // --- share links, export, import (conversations/sharing.cpp, conversations/transfer.hpp)
    // A new read-only link to a snapshot of the active branch. Errors: as get.
    boost::asio::awaitable<Result<store::Share>> share(const Principal& who, std::string_view id);
    // The caller's links that are not revoked, newest first.
    boost::asio::awaitable<Result<std::vector<store::Share>>> shares(const Principal& who);
    // Errors: not_found when the caller has no such unrevoked link.
    boost::asio::awaitable<Result<void>> revoke_share(const Principal& who, std::string id);
    // The link's snapshot, for anyone holding the token. Errors: not_found (unknown or revoked).
    boost::asio::awaitable<Result<store::Share>> shared(std::string token);
    // Every message of the conversation (all branches), oldest first. Errors: as get;
    // request_too_large past 10,000 messages.
    boost::asio::awaitable<Result<std::vector<store::Message>>> all_messages(
        const store::Conversation& c
    );
    // Stores the conversations of an export (conversations/transfer.hpp) as the caller's, all or
    // none. Errors: unprocessable (the document), conflict.
    boost::asio::awaitable<Result<std::vector<store::Conversation>>> import(
        const Principal& who, const boost::json::value& document
    );

    // Sets the title if the conversation still has none (the background auto-title).
    boost::asio::awaitable<Result<bool>> set_title_if_untitled(std::string id, std::string title);

    // The conversation of a WebSocket session: `session_id` is the caller's conversation id, or
    // a key the client chose (such as "test123"), in which case the first call creates a
    // conversation for this user and key and later calls find the same one. Errors: as get.
    boost::asio::awaitable<Result<store::Conversation>> attach_session(
        const Principal& who, std::string_view session_id
    );

    // The conversation of a session as attach_session finds it, without creating it.
    // Errors: as get.
    boost::asio::awaitable<Result<store::Conversation>> find_session(
        const Principal& who, std::string_view session_id
    );

    // Tells the conversation's subscribers that `name` happened (`data` a JSON document).
    void publish(const std::string& conversation_id, std::string name, std::string data);

    // Whether anyone could hear what is published about the conversation now (EventBus::
    // listened): a caller may skip building an event nobody would receive.
    bool listened(const std::string& conversation_id) const;

    // A subscription to the caller's conversation, delivered on `executor`. Errors: as get.
    boost::asio::awaitable<Result<std::unique_ptr<events::Subscription>>> subscribe(
        const Principal& who, std::string_view id
    );

private:
    // The active leaf becomes the leaf reached from `message_id`. Errors: not_found.
    boost::asio::awaitable<Result<void>> switch_leaf(
        store::Conversation& c, std::string message_id
    );

    Result<void> check_settings(const Settings& s, const llm::ModelInfo& model) const;
    Result<void> check_tools(const std::vector<std::string>& names) const;

    store::Store& store_;
    const llm::ModelRouter& router_;
    events::EventBus* bus_;
    Clock clock_;
    std::vector<std::string> tool_names_;
};

}  // namespace parley::conversations
