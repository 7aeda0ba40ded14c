// The rows the store reads and writes, as plain structs (ARCHITECTURE §5). No SQL, no I/O.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "store/search_query.hpp"

namespace parley::store {

struct User {
    std::string id;
    std::string email;  // normalised: trimmed, lower-case
    std::string password_hash;
    TimePoint created_at;
};

struct RefreshToken {
    std::string id;
    std::string user_id;
    std::string family_id;  // every token rotated from one login shares it
    std::string token_sha256;
    TimePoint created_at;
    TimePoint expires_at;
    std::optional<TimePoint> revoked_at;
    std::optional<std::string> replaced_by;  // set when rotated: presenting it again is reuse
};

struct ApiKey {
    std::string id;
    std::string user_id;
    std::string name;
    std::string prefix;  // the first characters of the key, for people to recognise it
    std::string key_sha256;
    unsigned scopes = 0;  // bit set of parley::Scope
    TimePoint created_at;
    std::optional<TimePoint> last_used_at;
    std::optional<TimePoint> expires_at;
    std::optional<TimePoint> revoked_at;
};

struct Conversation {
    std::string id;
    std::string user_id;
    std::optional<std::string> title;
    std::string model;
    std::optional<std::string> system_prompt;
    std::string settings = "{}";  // JSON object: temperature, max_tokens, thinking
    std::string metadata = "{}";  // JSON object, the client's own
    bool is_archived = false;
    bool is_pinned = false;
    std::optional<std::string> summary;
    TimePoint created_at;
    TimePoint updated_at;
    std::optional<TimePoint> summary_updated_at;  // when `summary` was last written
    // The end of the branch the conversation shows and continues (messages form a tree through
    // parent_id); absent while it has no messages. Written by insert_message and set_active_leaf,
    // never by update_conversation.
    std::optional<std::string> active_leaf_id;
};

// A figure worked out from a row by its first reader and kept with it for the readers after it
// (issue 14: rows are shared, SharedMessage, and remembered between reads). Not a column: unknown
// (negative) until set, and a copy or a move starts unknown, since a copy may then be changed.
// Thread-safe: readers on any thread may set it, each to the same value.
class DerivedCount {
public:
    DerivedCount() = default;

    DerivedCount(const DerivedCount& /*other*/) noexcept {}

    DerivedCount& operator=(const DerivedCount& /*other*/) noexcept {
        value_.store(-1, std::memory_order_relaxed);
        return *this;
    }

    ~DerivedCount() = default;

    std::int64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

    void set(std::int64_t value) const noexcept { value_.store(value, std::memory_order_relaxed); }

private:
    mutable std::atomic<std::int64_t> value_{-1};
};

struct Message {
    std::string id;
    std::string conversation_id;
    std::optional<std::string> parent_id;
    std::string role;  // user, assistant, system, tool
    std::string content;
    std::optional<std::string> thinking;
    std::string status = "complete";  // complete, partial, error
    std::optional<std::string> model;
    std::optional<std::string> provider;
    std::optional<std::string> finish_reason;
    std::int64_t token_count = 0;
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    std::int64_t cost_micros = 0;  // integer micro-dollars: sums stay exact
    std::optional<std::int64_t> latency_ms;
    std::optional<std::int64_t> ttft_ms;
    std::string metadata = "{}";  // JSON object
    TimePoint created_at;
    // llm::estimate_tokens(content), once a context has been fitted with the row
    // (messages/service.cpp); not stored.
    DerivedCount content_tokens{};
};

// A stored message as its readers share it (issue 14): a row is never updated, so one read (or
// one remembered row, store/tree_walk.hpp) serves every reader without a copy.
using SharedMessage = std::shared_ptr<const Message>;

// A message on a branch, with its place among its siblings (the messages with the same parent,
// or the roots of the conversation for a root; oldest first).
struct PathMessage {
    SharedMessage message;           // never null
    std::int64_t sibling_count = 1;  // itself included
    std::int64_t sibling_index = 0;  // 0-based
};

// Whether a path read counts each message's siblings (two subqueries a message: what a client
// shows as "‹ 2 / 3 ›") or leaves them at 1 and 0 (a model's context needs only the messages).
enum class Siblings { counted, skipped };

// A conversation and all its messages, written together (fork, import).
struct ConversationTree {
    Conversation conversation;      // active_leaf_id included
    std::vector<Message> messages;  // parents before their children
};

// A read-only public link to a snapshot of a conversation's active branch.
struct Share {
    std::string id;
    std::string token;  // the link's secret part: 256 random bits, base64url
    std::string user_id;
    std::string conversation_id;
    std::string snapshot;  // JSON: what GET /share/{token} shows (no account data)
    TimePoint created_at;
    std::optional<TimePoint> revoked_at;
};

// One entry of a conversation's session event log (seed 004): user_message, ai_token (tokens
// coalesced), tool_call, tool_result, routing, system_event.
struct SessionEvent {
    std::string id;  // UUIDv7
    std::string conversation_id;
    std::string type;
    std::string content;  // text, or a JSON document for tool and routing events
    TimePoint created_at;
};

struct ConversationFilter {
    std::string user_id;
    std::optional<bool> archived;
    std::optional<std::string> model;
    // Conversations whose title or one of whose messages matches (full-text, the last plain word
    // as a prefix, so that it works as people type); a query with nothing to match finds nothing.
    std::optional<SearchQuery> matching;
};

// GET /api/v1/search: the user's messages that match, with filters.
struct MessageSearch {
    std::string user_id;
    SearchQuery query;
    std::optional<std::string> conversation_id;
    std::optional<std::string> role;
    std::optional<TimePoint> from;  // created_at >= from
    std::optional<TimePoint> to;    // created_at < to
    bool include_archived = false;
};

// A message that matched, best first.
struct MessageHit {
    Message message;
    std::optional<std::string> conversation_title;
    double rank = 0;      // higher is better; comparable only within one result list
    std::string snippet;  // the matched text around the match, kMatchStart/kMatchEnd around terms
};

// One conversation seen as the seed's prompt/response pair (seed 003's /history).
struct Exchange {
    std::string conversation_id;
    std::string user_id;
    std::string prompt;    // the first user message ("" when there is none)
    std::string response;  // the first assistant message ("" when there is none)
    TimePoint created_at;  // the conversation's
};

// A conversation that matched the seed's /search, ranked by its best matching message.
struct ExchangeHit {
    Exchange exchange;
    double rank = 0;
    std::string snippet;  // of the best matching message, marked like MessageHit's
};

// A position in the most-recently-updated-first order of conversations (an opaque cursor).
struct ConversationCursor {
    TimePoint updated_at;
    std::string id;
};

template <class T>
struct Page {
    std::vector<T> items;
    std::int64_t total = 0;
};

// A model call that stores no message (table usage_records): the OpenAI- and Anthropic-compatible
// endpoints, and titles and summaries. Written through usage::UsageRecorder.
struct UsageRecord {
    std::string id;
    std::string user_id;
    std::optional<std::string> api_key_id;  // the key the call was made with; none: access token
    std::string kind;                       // "compat_chat", "compat_messages", "title", "summary"
    std::string model;                      // the model that answered
    std::string provider;
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    std::int64_t cost_micros = 0;
    TimePoint created_at;
};

struct UsageRow {
    std::string key;  // the model id, the day (YYYY-MM-DD), or the API key id (empty: none)
    std::int64_t message_count = 0;  // stored messages (both roles)
    std::int64_t call_count = 0;     // usage records (model calls that store no message)
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    std::int64_t cost_micros = 0;
};

struct UsageStats {
    std::int64_t conversation_count = 0;
    std::int64_t message_count = 0;
    std::int64_t call_count = 0;
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    std::int64_t cost_micros = 0;
    std::vector<UsageRow> by_model;
    std::vector<UsageRow> by_day;
    std::vector<UsageRow> by_key;  // ordered by key id, no key first
};

}  // namespace parley::store
