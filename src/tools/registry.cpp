#include "tools/registry.hpp"

#include <exception>
#include <stdexcept>
#include <tuple>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "common/json.hpp"
#include "common/log.hpp"
#include "tools/builtins.hpp"
#include "tools/knowledge_base.hpp"
#include "tools/time_zone.hpp"

namespace parley::tools {

namespace asio = boost::asio;

namespace {

// Deeper arguments than this are not what any built-in tool takes.
constexpr std::size_t kMaxArgumentDepth = 32;

bool valid_tool_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 64) {
        return false;
    }
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

std::string describe(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0) {
        return std::to_string(d.count() / 1000) + " s";
    }
    return std::to_string(d.count()) + " ms";
}

// The tool, with every exception turned into an error result. The race below waits for the first
// branch to *succeed* (Boost 1.81's `||`), so a branch that threw would not end it: the tool must
// never throw, or a failing tool would look like a time-out.
asio::awaitable<ToolResult> guarded(
    const Tool& tool, const ToolContext& ctx, boost::json::object arguments
) {
    const auto& name = tool.spec().name;
    try {
        co_return co_await tool.run(ctx, arguments);
    } catch (const boost::system::system_error& e) {
        if (e.code() == asio::error::operation_aborted) {
            co_return ToolResult::failure("`" + name + "` was cancelled");
        }
        log::warn("tool failed", {{"tool", name}, {"error", e.what()}});
    } catch (const std::exception& e) {
        log::warn("tool failed", {{"tool", name}, {"error", e.what()}});
    } catch (...) {
        log::warn("tool failed", {{"tool", name}, {"error", "unknown exception"}});
    }
    co_return ToolResult::failure("`" + name + "` failed unexpectedly");
}

}  // namespace

void Registry::add(std::unique_ptr<Tool> tool) {
    if (!tool) {
        throw std::invalid_argument("Registry::add: null tool");
    }
    const auto& name = tool->spec().name;
    if (!valid_tool_name(name)) {
        throw std::invalid_argument("Registry::add: invalid tool name \"" + name + "\"");
    }
    if (tools_.contains(name)) {
        throw std::invalid_argument(
            "Registry::add: a tool named \"" + name + "\" is already there"
        );
    }
    auto key = name;
    tools_.emplace(std::move(key), std::move(tool));
}

const Tool* Registry::find(std::string_view name) const noexcept {
    const auto it = tools_.find(name);
    return it == tools_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Registry::names() const {
    std::vector<std::string> out;
    out.reserve(tools_.size());
    for (const auto& [name, tool] : tools_) {
        out.push_back(name);
    }
    return out;
}

std::vector<llm::ToolSpec> Registry::specs(const std::vector<std::string>& names) const {
    std::vector<llm::ToolSpec> out;
    for (const auto& name : names) {
        const Tool* tool = find(name);
        if (tool == nullptr) {
            continue;
        }
        bool seen = false;
        for (const auto& s : out) {
            seen = seen || s.name == name;
        }
        if (!seen) {
            out.push_back(tool->spec());
        }
    }
    return out;
}

asio::awaitable<ToolResult> Registry::run(
    const llm::ToolCall& call, const ToolContext& ctx, std::chrono::milliseconds timeout
) const {
    const Tool* tool = find(call.name);
    if (tool == nullptr) {
        co_return ToolResult::failure("there is no tool named \"" + call.name + "\"");
    }
    if (call.invalid_arguments) {
        co_return ToolResult::failure(
            "invalid arguments for `" + call.name + "`: " + *call.invalid_arguments
        );
    }
    auto parsed = json::parse(call.arguments, kMaxArgumentDepth);
    if (!parsed) {
        co_return ToolResult::failure(
            "invalid arguments for `" + call.name + "`: " + parsed.error().message
        );
    }
    if (!parsed->is_object()) {
        co_return ToolResult::failure(
            "invalid arguments for `" + call.name + "`: the arguments must be a JSON object"
        );
    }

    // A named local moved into the coroutine: a temporary built inside the co_await expression
    // was destroyed twice by g++ 12 (docs/design.md, coroutine pitfalls).
    boost::json::object arguments = std::move(parsed->as_object());
    using namespace asio::experimental::awaitable_operators;  // NOLINT
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    auto outcome = co_await (
        guarded(*tool, ctx, std::move(arguments)) ||
        timer.async_wait(asio::as_tuple(asio::use_awaitable))
    );
    if (outcome.index() == 0) {
        co_return std::move(std::get<0>(outcome));
    }
    const auto [ec] = std::get<1>(outcome);
    if (ec) {
        // The timer was cancelled: the caller was, so the tool was too.
        co_return ToolResult::failure("`" + call.name + "` was cancelled");
    }
    log::warn("tool timed out", {{"tool", call.name}, {"timeout_ms", timeout.count()}});
    co_return ToolResult::failure(
        "`" + call.name + "` did not finish within " + describe(timeout) + " and was stopped"
    );
}

Registry make_builtin_registry(BuiltinOptions options) {
    Registry registry;
    registry.add(make_knowledge_tool(std::move(options.knowledge)));
    registry.add(make_context_tool());
    registry.add(make_calculator_tool());
    registry.add(make_current_time_tool(std::move(options.clock), std::move(options.zones)));
    if (options.store != nullptr) {
        registry.add(make_search_tool(*options.store));
    }
    return registry;
}

}  // namespace parley::tools
