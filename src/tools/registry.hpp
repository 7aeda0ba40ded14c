// The tools Parley can offer a model, by name, and the one place a tool call is run: `Registry`
// looks the tool up, checks the arguments are a JSON object, runs it under a time limit and turns
// every failure (unknown tool, invalid arguments, time-out, an exception) into an error result for
// the model, so that a tool can never fail a turn. `make_builtin_registry` builds the registry of
// the built-in tools (builtins.hpp). A registry is filled at start-up and read-only afterwards:
// shared by every I/O thread without locks.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/time.hpp"
#include "llm/types.hpp"
#include "tools/tool.hpp"

namespace parley::store {
class Store;
}

namespace parley::tools {

class KnowledgeBase;
class ZoneDatabase;

class Registry {
public:
    // Adds a tool. Throws std::invalid_argument (a composition bug, at start-up) when the name is
    // not [a-zA-Z0-9_-]{1,64} or a tool of that name is already there.
    void add(std::unique_ptr<Tool> tool);

    // The tool called `name`, or null.
    const Tool* find(std::string_view name) const noexcept;

    // Every tool's name, sorted.
    std::vector<std::string> names() const;

    // The specs of the tools `names` lists (a conversation's enabled tools), in that order, for
    // llm::ChatRequest::tools. Names the registry does not know, and repeats, are left out: a
    // conversation should only list known names (validate them with find() when it is saved).
    std::vector<llm::ToolSpec> specs(const std::vector<std::string>& names) const;

    // Runs the call and gives the model's result; never throws. Error results (ok=false):
    // an unknown tool; `call.invalid_arguments` (the model's arguments were not JSON); arguments
    // that are not a JSON object; the tool not done within `timeout` (it is cancelled); an
    // exception from the tool (logged with its text, which the model does not see). Any
    // registered tool runs: the turn checks that the model called one it was offered.
    // `timeout` should be positive (zero stops every tool at once). A stopped tool ends at its
    // next co_await; work it cannot interrupt (a query already on the blocking pool) is waited
    // for. Runs on the caller's executor. `call` and `ctx` must stay alive until it completes (the
    // caller co_awaits at once). Cancelling the caller cancels the tool; the result is then an
    // error result too.
    boost::asio::awaitable<ToolResult> run(
        const llm::ToolCall& call, const ToolContext& ctx, std::chrono::milliseconds timeout
    ) const;

private:
    std::map<std::string, std::unique_ptr<Tool>, std::less<>> tools_;
};

// The built-in tools' names.
inline constexpr std::string_view kKnowledgeTool = "fetch_internal_knowledge";
inline constexpr std::string_view kContextTool = "lookup_contextual_data";
inline constexpr std::string_view kCalculatorTool = "calculator";
inline constexpr std::string_view kCurrentTimeTool = "current_time";
inline constexpr std::string_view kSearchTool = "search_conversations";

// The tools the seed's WebSocket path enables by default.
inline constexpr std::array<std::string_view, 2> kSeedTools = {kKnowledgeTool, kContextTool};

// What the built-in tools need from the app.
struct BuiltinOptions {
    // The knowledge base (built-in topics plus KNOWLEDGE_DIR); null: the built-in topics only.
    std::shared_ptr<const KnowledgeBase> knowledge;
    // The store search_conversations searches; null leaves that tool out. Must outlive the
    // registry.
    store::Store* store = nullptr;
    // current_time's clock and time zone data; null zones: /usr/share/zoneinfo.
    Clock clock = system_now;
    std::shared_ptr<const ZoneDatabase> zones;
};

// A registry with every built-in tool: fetch_internal_knowledge, lookup_contextual_data,
// calculator, current_time and (with a store) search_conversations.
Registry make_builtin_registry(BuiltinOptions options);

}  // namespace parley::tools
