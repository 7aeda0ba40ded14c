// The built-in tools, one factory each; make_builtin_registry (registry.hpp) adds them all. Each
// tool validates its own arguments and answers with JSON the model reads:
//   fetch_internal_knowledge(topic)   {"topic", "content", "source", "match"}
//   lookup_contextual_data(session_id) {"conversation_id", "message_count", "tools_used",
//                                       "routing", "routing_decisions", "started_at"}
//   calculator(expression)            {"expression", "result"}
//   current_time(timezone)            {"timezone", "iso8601", "utc_offset", "abbreviation", …}
//   search_conversations(query)       {"query", "results": [{conversation_id, conversation_title,
//                                       role, snippet, created_at}]}
// and `{"error": "…"}` (ok=false) when they cannot.
#pragma once

#include <memory>

#include "common/time.hpp"
#include "tools/tool.hpp"

namespace parley::store {
class Store;
}

namespace parley::tools {

class KnowledgeBase;
class ZoneDatabase;

// Documents longer than this are cut (at a UTF-8 boundary) in fetch_internal_knowledge's result,
// which then says "truncated": true.
inline constexpr std::size_t kMaxKnowledgeResultBytes = 32 * 1024;

// fetch_internal_knowledge over `knowledge` (null: the built-in topics). Not found: ok=false with
// "available_topics".
std::unique_ptr<Tool> make_knowledge_tool(std::shared_ptr<const KnowledgeBase> knowledge);

// lookup_contextual_data: what ToolContext::sessions says about the turn's own conversation. The
// `session_id` argument is accepted (the seed's schema has it) but never selects another
// conversation: the tool describes the current one only, so a model cannot read other sessions.
std::unique_ptr<Tool> make_context_tool();

// calculator: calculator.hpp's evaluator.
std::unique_ptr<Tool> make_calculator_tool();

// current_time in a time zone (default "UTC"), at `clock()`; `zones` null: /usr/share/zoneinfo.
std::unique_ptr<Tool> make_current_time_tool(
    Clock clock, std::shared_ptr<const ZoneDatabase> zones
);

// search_conversations: the caller's own messages matching the query (store/search_query.hpp's
// syntax), best first, at most kSearchToolHits. `store` must outlive the tool.
inline constexpr std::int64_t kSearchToolHits = 5;
std::unique_ptr<Tool> make_search_tool(store::Store& store);

}  // namespace parley::tools
