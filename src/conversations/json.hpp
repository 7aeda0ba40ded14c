// The wire shapes of conversations and messages (the seed contract's field names, plus Parley's
// additions), shared by the conversation and message routes. Each builds on `sp` (default: the
// heap), so that a response's whole tree can live in one arena (http::json_arena).
#pragma once

#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>

#include "store/models.hpp"

namespace parley::json {
class Writer;
}

namespace parley::conversations {

// id, user_id, title, model, system_prompt, metadata, settings, is_archived, is_pinned, summary,
// summary_updated_at, created_at, updated_at, active_leaf_id.
boost::json::object conversation_json(
    const store::Conversation& c, const boost::json::storage_ptr& sp = {}
);

// id, conversation_id, parent_id, role, content, thinking, model, provider, finish_reason,
// latency_ms, token_count, status, created_at, metadata {input_tokens, output_tokens, cost_usd,
// …stored}.
boost::json::object message_json(const store::Message& m, const boost::json::storage_ptr& sp = {});

// message_json plus the message's place among its siblings: sibling_count, sibling_index
// (0-based, oldest first).
boost::json::object path_message_json(
    const store::PathMessage& p, const boost::json::storage_ptr& sp = {}
);

// The same shapes written straight into a response body (json::Writer), byte for byte what
// serialising the objects above gives (tests/unit/conversations/json_test.cpp): the list and the
// conversation routes use these, which build no tree (issue 14).
void write_conversation(json::Writer& w, const store::Conversation& c);
void write_message(json::Writer& w, const store::Message& m);
// conversation_json with `messages` (path_message_json each) as its last field: GET
// /conversations/{id}.
void write_conversation_with_messages(
    json::Writer& w, const store::Conversation& c, const std::vector<store::PathMessage>& messages
);
void write_path_message(json::Writer& w, const store::PathMessage& p);

// Micro-dollars as a JSON number of dollars (cost_usd).
double to_usd(std::int64_t micros) noexcept;

}  // namespace parley::conversations
