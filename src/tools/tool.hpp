// What a tool is to the turn that runs it (issue 12): a `Tool` has a spec (name, description, JSON
// Schema of its arguments, as offered to the model) and a coroutine that runs it for one caller in
// one conversation and gives back a `ToolResult` (JSON text for the model). A tool never throws
// for an expected failure (a missing or wrong-typed argument, nothing found, a store error): it
// returns ok=false with `{"error": "…"}`, which the model reads and can react to. `Registry`
// (registry.hpp) adds the time limit and catches what a tool did not expect.
// Also here: `SessionInfoSource`, the one thing tools need from the app that the store does not
// offer directly (what happened in a session), so that the app can implement it later and tests
// can fake it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "common/error.hpp"
#include "common/principal.hpp"
#include "common/time.hpp"
#include "llm/types.hpp"

namespace parley::tools {

// What a tool may learn about the session (the conversation) it runs in.
struct SessionInfo {
    struct ToolUse {
        std::string name;
        std::int64_t count = 0;
    };

    struct Routing {
        std::string strategy;  // "FAST_CONCISE", … (sessions/routing.hpp's names)
        TimePoint at;
    };

    std::int64_t message_count = 0;       // every stored message, both sides
    std::vector<ToolUse> tools_used;      // by name, most used first
    std::vector<Routing> routing;         // routing decisions, oldest first
    std::optional<TimePoint> started_at;  // the conversation's creation
};

// Where lookup_contextual_data gets its data; the app implements it over the store. Thread-safe:
// tools run on any I/O thread.
class SessionInfoSource {
public:
    virtual ~SessionInfoSource() = default;

    // What happened so far in the conversation. The id always comes from the turn's ToolContext
    // (whose conversation the turn has already checked belongs to the caller), never from the
    // model's arguments. Runs on the caller's executor (resumes there). Errors: not_found when
    // there is no such conversation; api / overloaded when the store fails.
    virtual boost::asio::awaitable<Result<SessionInfo>> session_info(std::string conversation_id
    ) = 0;
};

// Who runs a tool, and where. Plain data the turn fills in; it outlives the run.
struct ToolContext {
    Principal who;                // the caller; search_conversations searches their messages
    std::string conversation_id;  // the conversation of the turn
    SessionInfoSource* sessions = nullptr;  // null: lookup_contextual_data says it is unavailable
};

// What a tool gives back to the model.
struct ToolResult {
    bool ok = false;
    std::string content;  // a serialized JSON object; `{"error": "…", …}` when !ok

    // ok=true with `body` serialized.
    static ToolResult success(const boost::json::object& body);

    // ok=false with `{"error": message}` plus the fields of `extra` (e.g. the available topics).
    static ToolResult failure(std::string_view message, boost::json::object extra = {});
};

class Tool {
public:
    virtual ~Tool() = default;

    // The name, description and argument schema offered to the model. Stable for the tool's life.
    virtual const llm::ToolSpec& spec() const noexcept = 0;

    // Runs the tool with the model's arguments (a JSON object; unknown keys are ignored, a missing
    // or wrong-typed key the tool needs is ok=false naming it). Runs on the caller's executor;
    // cancellation (the registry's time limit, the turn ending) interrupts the tool at its next
    // co_await. Tools are shared by every conversation: run() may be called concurrently from
    // several threads and must not change the tool.
    virtual boost::asio::awaitable<ToolResult> run(
        const ToolContext& ctx, const boost::json::object& arguments
    ) const = 0;
};

// Argument readers for tools: the string under `key`, trimmed. Errors (unprocessable, with a
// message for the model): "`key` is required" (absent, or empty after trimming when required),
// "`key` must be a string", "`key` is longer than N characters".
Result<std::string> string_argument(
    const boost::json::object& arguments, std::string_view key, std::size_t max_length
);
// Absent (or null) → nullopt; otherwise as string_argument.
Result<std::optional<std::string>> optional_string_argument(
    const boost::json::object& arguments, std::string_view key, std::size_t max_length
);

}  // namespace parley::tools
