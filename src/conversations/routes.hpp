// Handlers for /api/v1/conversations: parse and validate, call ConversationService, shape the
// seed contract's responses.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "conversations/service.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace parley::conversations {

// POST /api/v1/conversations
boost::asio::awaitable<http::Response> create(http::Request& req, ConversationService& svc);
// GET /api/v1/conversations
boost::asio::awaitable<http::Response> list(http::Request& req, ConversationService& svc);
// GET /api/v1/conversations/{id}?leaf=  (with its active branch, or the branch through `leaf`,
// oldest first, each message with sibling_count and sibling_index)
boost::asio::awaitable<http::Response> get(http::Request& req, ConversationService& svc);
// GET /api/v1/conversations/{id}/messages
boost::asio::awaitable<http::Response> list_messages(http::Request& req, ConversationService& svc);
// PATCH /api/v1/conversations/{id}
boost::asio::awaitable<http::Response> update(http::Request& req, ConversationService& svc);
// DELETE /api/v1/conversations/{id}
boost::asio::awaitable<http::Response> remove(http::Request& req, ConversationService& svc);
// POST /api/v1/conversations/{id}/fork {message_id}: 201 with the new conversation and its path
boost::asio::awaitable<http::Response> fork(http::Request& req, ConversationService& svc);

// POST /api/v1/conversations/{id}/share: 201 {id, token, url, conversation_id, title, created_at}
boost::asio::awaitable<http::Response> share(http::Request& req, ConversationService& svc);
// GET /api/v1/shares: the caller's links that are not revoked, newest first
boost::asio::awaitable<http::Response> list_shares(http::Request& req, ConversationService& svc);
// DELETE /api/v1/shares/{id}: 204; the link answers 404 from now on
boost::asio::awaitable<http::Response> revoke_share(http::Request& req, ConversationService& svc);
// GET /share/{token} (no credentials): the snapshot {title, shared_at, messages}
boost::asio::awaitable<http::Response> shared(http::Request& req, ConversationService& svc);
// GET /api/v1/conversations/{id}/export?format=json|markdown
boost::asio::awaitable<http::Response> export_conversation(
    http::Request& req, ConversationService& svc
);
// POST /api/v1/conversations/import: Parley's JSON export or ChatGPT's conversations.json; 201
// with the new conversations
boost::asio::awaitable<http::Response> import_conversations(
    http::Request& req, ConversationService& svc
);

// GET /api/v1/conversations/{id}/events: Server-Sent Events of what happens to the conversation
// (`event: <name>` + `data: <json>`), a heartbeat comment every 15 s, until the client leaves or
// the conversation is deleted.
boost::asio::awaitable<http::Response> events(http::Request& req, ConversationService& svc);

}  // namespace parley::conversations
