// Handlers for sending messages: POST …/messages (one JSON answer), POST …/messages/stream (Server-
// Sent Events, Anthropic's format or `?format=openai`), seed 003's POST /stream, and the WebSocket
// routes
// (GET …/conversations/{id}/ws and the seed's GET /ws/session/{session_id}).
#pragma once

#include <memory>

#include <boost/asio/awaitable.hpp>

#include "auth/gate.hpp"
#include "conversations/service.hpp"
#include "http/request.hpp"
#include "http/response.hpp"
#include "messages/resume.hpp"
#include "messages/service.hpp"
#include "messages/sessions.hpp"

namespace parley::messages {

// POST /api/v1/conversations/{id}/messages
boost::asio::awaitable<http::Response> send(http::Request& req, MessageService& svc);

// POST /api/v1/conversations/{id}/messages/stream. Every event carries an `id:` (1, 2, … per
// answer) and is kept in `hub` for resume_stream; with `"resumable": true` in the body the answer
// goes on for the hub's window after the reader left (else the reader leaving stops it).
boost::asio::awaitable<http::Response> stream(
    http::Request& req, MessageService& svc, StreamHub& hub
);

// Answers a started turn (a conversation's, or a stateless call's: messages/call.hpp) as a stream
// in `encoder`'s format: deltas as they come, a ping after a silence, the ending; a client that
// leaves cancels the turn. Nothing is sent until the first event: a failure before it (every
// provider down) throws the turn's error (502/503), an ordinary error response, not a 200 stream.
boost::asio::awaitable<http::Response> stream_turn(
    http::Request& req, std::shared_ptr<Turn> turn, std::shared_ptr<StreamEncoder> encoder
);
// POST /api/v1/conversations/{id}/messages/{message_id}/edit {content, …}: a sibling of the user
// message, answered; the answer as `send`'s.
boost::asio::awaitable<http::Response> edit(http::Request& req, MessageService& svc);
// POST /api/v1/conversations/{id}/messages/{message_id}/edit/stream: the same, streamed.
boost::asio::awaitable<http::Response> edit_stream(
    http::Request& req, MessageService& svc, StreamHub& hub
);
// POST /api/v1/conversations/{id}/messages/{message_id}/regenerate {model?, …}: a sibling of the
// answer, to the same question.
boost::asio::awaitable<http::Response> regenerate(http::Request& req, MessageService& svc);
// POST /api/v1/conversations/{id}/messages/{message_id}/regenerate/stream: the same, streamed.

// GET /api/v1/conversations/{id}/messages/{message_id}/stream with Last-Event-ID (header, or
// ?last_event_id=): the answer's events after that id, then the live rest, in the format it was
// asked in; from this instance's hub, another instance's through Redis, or, once the stream is
// gone, the whole stored answer (?format= then, default anthropic). Owner only (404 otherwise);
// 400 for a Last-Event-ID that is not an event id; 503 when Redis does not answer and the
// answer is not stored.
boost::asio::awaitable<http::Response> resume_stream(
    http::Request& req,
    conversations::ConversationService& conversations,
    store::Store& store,
    StreamHub& hub
);
boost::asio::awaitable<http::Response> regenerate_stream(
    http::Request& req, MessageService& svc, StreamHub& hub
);

// POST /stream?stream_format=text|openai|sse, body {"prompt": "…"}: seed 003's route. Each call
// is a new conversation of the caller holding the prompt and the answer, streamed as plain text,
// OpenAI chunks one per line (NDJSON), or the same chunks as Server-Sent Events with [DONE].
boost::asio::awaitable<http::Response> prompt_stream(
    http::Request& req, MessageService& svc, conversations::ConversationService& conversations
);

// GET /api/v1/conversations/{id}/ws (path parameter `id`) and GET /ws/session/{session_id}.
// The upgrade is an ordinary request (the standard limit); each turn counts against the model
// limit through `gate` (none: unlimited, for tests).
// The seed path speaks seed 004's protocol: a frame that is not JSON is the message itself, and
// in AUTH_MODE=open without a credential `?user_id=` names a guest user. One socket per session
// (a second is refused with an error frame); every session is logged (session_events), and one
// with a turn gets a summary in the background when it ends.
boost::asio::awaitable<http::Response> websocket(
    http::Request& req,
    MessageService& svc,
    conversations::ConversationService& conversations,
    auth::AuthGate* gate,
    SessionService& sessions
);

// GET /api/v1/conversations/{id}/session-events?after=&limit=
boost::asio::awaitable<http::Response> session_events(http::Request& req, SessionService& sessions);

// POST /api/v1/conversations/{id}/summary: writes the summary now.
boost::asio::awaitable<http::Response> summarize(http::Request& req, SessionService& sessions);

// GET /api/sessions/{session_id}/summary: the seed's shape; 404 while there is none.
boost::asio::awaitable<http::Response> session_summary(
    http::Request& req, SessionService& sessions
);

}  // namespace parley::messages
