// The request bodies of the conversation routes, decoded from their JSON objects into the
// service's inputs: strict (an unknown field is 422 naming it), bounded (title, system prompt,
// metadata, tools) and typed. Pure code, apart from the routes that call it; fuzzed on its own
// (fuzz/dto_fuzz.cpp).
#pragma once

#include <string>

#include <boost/json/object.hpp>

#include "conversations/service.hpp"

namespace parley::conversations {

// Throws ErrorException(unprocessable, message): how a decoder refuses a field.
[[noreturn]] void unprocessable(std::string message);

// POST /api/v1/conversations: title, model, system_prompt, metadata (an object), temperature,
// max_tokens, thinking, tools, routing. Throws ErrorException (unprocessable) naming the bad field.
NewConversation new_conversation_of(const boost::json::object& body);

// PATCH /api/v1/conversations/{id}: title, system_prompt, model, metadata, is_archived, is_pinned,
// tools, routing, active_leaf; only the fields present; title and system_prompt may be null.
// Throws ErrorException (unprocessable) naming the bad field.
ConversationPatch conversation_patch_of(const boost::json::object& body);

}  // namespace parley::conversations
