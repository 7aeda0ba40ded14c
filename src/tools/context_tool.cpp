// lookup_contextual_data: what happened so far in the turn's own session (conversation).
#include <algorithm>

#include <boost/json/array.hpp>

#include "tools/builtins.hpp"
#include "tools/registry.hpp"

namespace parley::tools {

namespace {

constexpr std::size_t kMaxSessionIdLength = 200;
// The most recent routing decisions listed; "routing_decisions" counts them all.
constexpr std::size_t kMaxRoutingListed = 20;

class ContextTool final : public Tool {
public:
    ContextTool() {
        spec_.name = std::string(kContextTool);
        spec_.description =
            "Looks up data about the current session: how many messages it has, which tools were "
            "used and how often, the response strategies chosen, and when it started.";
        spec_.parameters =
            R"({"type":"object","properties":{"session_id":{"type":"string","description":)"
            R"("The current session's id; only the current session can be looked up"}}})";
    }

    const llm::ToolSpec& spec() const noexcept override { return spec_; }

    boost::asio::awaitable<ToolResult> run(
        const ToolContext& ctx, const boost::json::object& arguments
    ) const override {
        // Validated for its type only: the conversation always comes from the context.
        const auto session_id =
            optional_string_argument(arguments, "session_id", kMaxSessionIdLength);
        if (!session_id) {
            co_return ToolResult::failure(session_id.error().message);
        }
        if (ctx.sessions == nullptr || ctx.conversation_id.empty()) {
            co_return ToolResult::failure("session data is not available here");
        }
        auto info = co_await ctx.sessions->session_info(ctx.conversation_id);
        if (!info) {
            co_return ToolResult::failure(
                "session data could not be read: " + info.error().message
            );
        }
        boost::json::object body;
        body["conversation_id"] = ctx.conversation_id;
        body["message_count"] = info->message_count;
        boost::json::array tools;
        for (const auto& t : info->tools_used) {
            boost::json::object use;
            use["name"] = t.name;
            use["count"] = t.count;
            tools.push_back(std::move(use));
        }
        body["tools_used"] = std::move(tools);
        boost::json::array routing;
        const auto& decisions = info->routing;
        const auto first = decisions.size() - std::min(decisions.size(), kMaxRoutingListed);
        for (auto i = first; i < decisions.size(); ++i) {
            boost::json::object decision;
            decision["strategy"] = decisions[i].strategy;
            decision["at"] = to_iso8601(decisions[i].at);
            routing.push_back(std::move(decision));
        }
        body["routing"] = std::move(routing);
        body["routing_decisions"] = static_cast<std::int64_t>(decisions.size());
        if (info->started_at) {
            body["started_at"] = to_iso8601(*info->started_at);
        } else {
            body["started_at"] = nullptr;
        }
        co_return ToolResult::success(body);
    }

private:
    llm::ToolSpec spec_;
};

}  // namespace

std::unique_ptr<Tool> make_context_tool() {
    return std::make_unique<ContextTool>();
}

}  // namespace parley::tools
