// search_conversations: the caller's own messages that match a query, through the store's
// full-text search (the same as GET /api/v1/search).
#include <boost/json/array.hpp>

#include "common/strings.hpp"
#include "store/search_query.hpp"
#include "store/store.hpp"
#include "tools/builtins.hpp"
#include "tools/registry.hpp"

namespace parley::tools {

namespace {

constexpr std::size_t kMaxQueryLength = 500;
// A snippet the store did not shorten (or a message without one) is cut to this many bytes.
constexpr std::size_t kMaxSnippetBytes = 400;

// The snippet as plain text: the store's match markers removed.
std::string plain_snippet(std::string_view marked) {
    std::string out;
    out.reserve(marked.size());
    for (const char c : marked) {
        if (c != store::kMatchStart && c != store::kMatchEnd) {
            out.push_back(c);
        }
    }
    return out;
}

class SearchTool final : public Tool {
public:
    explicit SearchTool(store::Store& store) : store_(store) {
        spec_.name = std::string(kSearchTool);
        spec_.description =
            "Searches the user's own past conversations (their messages and the assistant's "
            "answers) and returns the five best matches with the conversation title, who wrote "
            "it, a snippet and when. Query syntax: words (all must match), \"quoted phrases\", "
            "OR between alternatives, -word to exclude.";
        spec_.parameters =
            R"({"type":"object","properties":{"query":{"type":"string","description":)"
            R"("What to search for, e.g. \"websocket reconnect\""}},"required":["query"]})";
    }

    const llm::ToolSpec& spec() const noexcept override { return spec_; }

    boost::asio::awaitable<ToolResult> run(
        const ToolContext& ctx, const boost::json::object& arguments
    ) const override {
        const auto text = string_argument(arguments, "query", kMaxQueryLength);
        if (!text) {
            co_return ToolResult::failure(text.error().message);
        }
        if (!ctx.who.authenticated()) {
            co_return ToolResult::failure("searching conversations needs a signed-in user");
        }
        store::MessageSearch search;
        search.user_id = ctx.who.user_id;
        search.query = store::parse_search_query(*text);
        if (!search.query.has_positive()) {
            co_return ToolResult::failure(
                "the query has no word to search for (a query of exclusions alone finds nothing)"
            );
        }
        auto hits = co_await store_.search_messages(std::move(search), 0, kSearchToolHits);
        if (!hits) {
            co_return ToolResult::failure("the search failed: " + hits.error().message);
        }
        boost::json::array results;
        for (const auto& hit : *hits) {
            boost::json::object r;
            r["conversation_id"] = hit.message.conversation_id;
            if (hit.conversation_title) {
                r["conversation_title"] = *hit.conversation_title;
            } else {
                r["conversation_title"] = nullptr;
            }
            r["role"] = hit.message.role;
            const auto snippet =
                plain_snippet(hit.snippet.empty() ? hit.message.content : hit.snippet);
            r["snippet"] = utf8_prefix(snippet, kMaxSnippetBytes);
            r["created_at"] = to_iso8601(hit.message.created_at);
            results.push_back(std::move(r));
        }
        boost::json::object body;
        body["query"] = *text;
        body["results"] = std::move(results);
        co_return ToolResult::success(body);
    }

private:
    store::Store& store_;
    llm::ToolSpec spec_;
};

}  // namespace

std::unique_ptr<Tool> make_search_tool(store::Store& store) {
    return std::make_unique<SearchTool>(store);
}

}  // namespace parley::tools
