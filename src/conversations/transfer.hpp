// Conversations in and out (issue 17): the snapshot a share link shows, Parley's JSON export (the
// whole tree) and Markdown export (the active branch), and the import of Parley's JSON and of
// ChatGPT's `conversations.json`. Pure: JSON in, rows out, no I/O.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/error.hpp"
#include "common/time.hpp"
#include "store/models.hpp"

namespace parley::conversations {

// The share link's snapshot: {title, shared_at, messages: [{role, content, model, created_at}]}
// of the branch, and nothing about the account (no ids, user, metadata, costs).
boost::json::object share_snapshot(
    const store::Conversation& c, const std::vector<store::PathMessage>& branch, TimePoint now
);

// Parley's export: {format: "parley.conversation", version: 1, conversation: {…}, messages:
// [every message of every branch, parents first]}.
boost::json::object export_json(
    const store::Conversation& c, const std::vector<store::Message>& messages
);

// The branch as Markdown: the title, then each message under its speaker.
std::string export_markdown(
    const store::Conversation& c, const std::vector<store::PathMessage>& branch
);

// What an import may hold.
struct ImportLimits {
    std::size_t max_conversations = 100;
    std::size_t max_messages = 10'000;  // per conversation
    std::size_t max_total_messages = 50'000;
    std::size_t max_content_chars = 100'000;
    std::size_t max_title_chars = 200;
};

// Who the imported conversations belong to and how new rows are made.
struct ImportContext {
    std::string user_id;
    std::string default_model;  // for conversations whose model is unknown here
    std::function<bool(std::string_view)> known_model;
    std::function<std::string()> new_id;
    TimePoint now;
};

// The conversations in `document`: Parley's export (an object with format
// "parley.conversation"), a ChatGPT export (an array of conversations with `mapping`) or one
// ChatGPT conversation. Every branch is kept, with new ids, owned by `ctx.user_id`; ChatGPT's
// hidden, system and tool nodes are left out (their children move up to the nearest message
// kept). Errors: unprocessable naming the first problem (shape, an unknown parent, a cycle, a
// limit); nothing is half-read.
Result<std::vector<store::ConversationTree>> parse_import(
    const boost::json::value& document, const ImportLimits& limits, const ImportContext& ctx
);

}  // namespace parley::conversations
