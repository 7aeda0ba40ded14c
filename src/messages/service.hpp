// Sending a message and getting the model's answer (non-streaming): validation, the user message
// stored first, the context window, the provider call through the router (fallback, retries,
// timeouts), cost and token accounting, the assistant message stored complete or as an error, and
// the background auto-title. No HTTP types here.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "common/principal.hpp"
#include "common/time.hpp"
#include "conversations/service.hpp"
#include "llm/router.hpp"
#include "messages/stream_format.hpp"
#include "messages/tree.hpp"
#include "store/store.hpp"
#include "tools/registry.hpp"
#include "usage/budget.hpp"
#include "usage/recorder.hpp"

namespace parley::messages {

struct MessageOptions {
    std::size_t max_content_chars = 100'000;
    int tool_max_rounds = 4;                         // TOOL_MAX_ROUNDS
    std::chrono::milliseconds tool_timeout{10'000};  // TOOL_TIMEOUT_S
    std::int64_t context_margin_tokens = 256;        // slack for the estimate and the chat framing
    std::int64_t default_max_tokens = 1024;
};

struct NewMessage {
    std::string content;
    std::optional<bool> thinking;
    std::optional<std::string> model;
    std::optional<double> temperature;
    std::optional<std::int64_t> max_tokens;
};

// The most recent messages that fit `budget` tokens (estimated), oldest first, whole messages
// only; error messages are skipped. `newest_first` is the branch, newest first (Placement).
// With `with_tools`, an answer's tool calls and results (metadata.tools) are replayed before its
// text, as the model made them; without, they are left out (a provider refuses tool messages in a
// request that offers no tools).
std::vector<llm::ChatMessage> fit_context(
    const std::vector<store::SharedMessage>& newest_first,
    std::int64_t budget,
    bool with_tools = false
);

// fit_context's messages and what they were estimated at, so a send estimates each message once:
// `tokens` is the sum of llm::estimate_tokens(content) + 4 over `messages` (tool calls' arguments
// not included). The branch's rows are shared (store::SharedMessage): a kept row's text goes into
// its message shared with the row, which the message then keeps alive, when the rest of the row
// is no larger than the text (else, and for `newest`, the text is copied); `newest` (the turn's
// own message, not stored yet), when given, comes before them.
struct FittedContext {
    std::vector<llm::ChatMessage> messages;  // oldest first
    std::int64_t tokens = 0;
};

FittedContext fit_context_counted(
    const std::vector<store::SharedMessage>& newest_first,
    std::int64_t budget,
    bool with_tools = false,
    const store::Message* newest = nullptr
);

// A title from a model's answer: the first line, quotes and markdown stripped, at most 60
// characters cut at a word; empty when nothing usable remains.
std::string clean_title(std::string_view answer);

// The first words of a message, at most 60 characters: the title when no model gives one.
std::string title_from_message(std::string_view content);

// A short answer asked in the background (a title, a summary): the text, and whether the model
// answered. The call's tokens and cost are recorded for `who` as `kind` through `recorder` (when
// set; a failure to record is logged), so background calls count in usage like any other. With
// `budgets`, the call counts toward `who`'s budgets and is skipped (ok false, no model asked)
// when one is spent: a background call never fails a request.
struct BackgroundAnswer {
    std::string text;
    bool ok = false;
    bool skipped = false;  // not asked: a budget of `who` is spent (or could not be checked)
};

boost::asio::awaitable<BackgroundAnswer> ask_in_background(
    llm::ModelRouter& router,
    const llm::ModelInfo& model,
    llm::ChatRequest request,
    Principal who,
    usage::UsageRecorder* recorder,
    usage::CallKind kind,
    usage::Budgets* budgets
);

// What a turn produces, in order: thinking and text deltas, then one `end`.
struct TurnEvent {
    enum class Kind { thinking, text, tool_call, tool_result, end };

    Kind kind = Kind::text;
    std::string text;  // thinking, text; tool_call: the arguments; tool_result: the result (JSON)
    std::string tool_id{};    // tool_call, tool_result
    std::string tool_name{};  // tool_call, tool_result
    bool ok = true;           // tool_result: false when the tool failed

    // A text or thinking delta.
    bool delta() const noexcept { return kind == Kind::text || kind == Kind::thinking; }
};

// Why an answer was stopped before its end.
enum class StopCause {
    none,
    client_left,  // the reader went away: store what arrived
    shutdown,     // the server is draining: store what arrived, the reader is told
};

// One answer in progress. It runs in its own coroutine on the caller's executor and stores the
// assistant message itself when it ends (complete, or partial/error), whether or not anyone is
// still reading: a client that leaves loses nothing that was produced.
class Turn {
public:
    struct State;

    explicit Turn(std::shared_ptr<State> state) : state_(std::move(state)) {}

    ~Turn();  // cancels the answer if it is still running (as if the client left)
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;

    // What is known before the first delta (ids, model, the prompt estimate).
    const StreamStart& start() const noexcept;

    // The next event, waiting for it; after `end`, outcome() is set. Cancellable: the event
    // stays queued.
    boost::asio::awaitable<TurnEvent> next();

    // The next event without taking it (null when none is queued); pop() takes it. For a
    // reader that handles events where they are queued (issue 14: no copy per delta).
    const TurnEvent* peek() const noexcept;
    void pop();

    // A reader's plain call for deltas (issue 14: no resumption of the reader's coroutine per
    // delta). While set, an event pushed on the reader's loop thread while the reader waits in
    // wait_until() is first offered to `reader`: it takes the deltas it can (peek(), pop()) and
    // returns true when it left nothing for its coroutine, false to have the coroutine woken as
    // usual. Reset it (an empty function) before what it refers to goes.
    void set_inline_reader(std::function<bool()> reader);

    // For a reader that drains with peek() and pop(): completes when an event is queued (at once if
    // one is), or at `t` if that comes first (then false); may also return true with nothing
    // queued. Cancellable.
    boost::asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point t);

    // Ends the reader's wait_until() (true) without an event, posted, or the next one at once
    // when it is not waiting: for something the reader watches besides the turn, such as its
    // connection's close before the first event (http::Request::watch_close). A plain call,
    // safe anywhere on the reader's loop thread.
    void wake();

    // Stops the answer: the provider request is aborted and what arrived is stored as
    // `partial` (finish_reason "cancelled"). The turn still ends with an `end` event.
    void cancel(StopCause why);

    // After `end`: the stored assistant message and, when the answer failed, the wire error
    // (error_type/error_message) and the API error to answer a request that has not started a
    // stream with (502 upstream or 503 overloaded).
    const StreamEnd& outcome() const noexcept;
    const std::optional<Error>& failure() const noexcept;

    // Whether any delta was produced.
    bool started() const noexcept;

private:
    std::shared_ptr<State> state_;
};

class MessageService {
public:
    // `tools` (optional) runs the tool calls of conversations that offer tools.
    MessageService(
        store::Store& store,
        conversations::ConversationService& conversations,
        llm::ModelRouter& router,
        MessageOptions options,
        Clock clock = system_now,
        const tools::Registry* tools = nullptr
    );

    // Where the auto-title's model call is recorded (usage_records, kind "title"); none: not
    // recorded. Call before serving.
    void set_usage_recorder(usage::UsageRecorder* recorder) noexcept { recorder_ = recorder; }

    // Where every model call's spend is reserved and settled (budgets); none: no budgets. Call
    // before serving.
    void set_budgets(usage::Budgets* budgets) noexcept { budgets_ = budgets; }

    // Stores the user's message, asks the model and stores its answer, which it returns.
    // Errors: not_found / permission (the conversation), unprocessable (content, model, settings),
    // budget_exceeded (429: a budget of the account or key is spent; nothing is stored),
    // upstream (502: the provider failed or answered an error), overloaded (503: every model in the
    // chain failed) — in both cases the user message stays and an assistant message with status
    // "error" (or "partial", with what arrived) is recorded.
    // `branch`: where it goes in the tree (messages/tree.hpp): after the active leaf, or as an
    // edit or a regeneration (then `message.content` is ignored: the question is the stored one);
    // errors as place()'s too.
    boost::asio::awaitable<Result<store::Message>> send(
        const Principal& who, std::string_view conversation_id, NewMessage message, Branch branch
    );

    // After the active leaf. (Not a default argument: g++ 12 destroys a default argument of a
    // coroutine called in a co_await expression twice; this plain function builds it instead.)
    boost::asio::awaitable<Result<store::Message>> send(
        const Principal& who, std::string_view conversation_id, NewMessage message
    ) {
        return send(who, conversation_id, std::move(message), Branch{});
    }

    // Validates, stores the user's message and starts the answer. Errors: as send's validation
    // (nothing is stored then). Provider failures arrive through the turn.
    boost::asio::awaitable<Result<std::unique_ptr<Turn>>> start(
        const Principal& who, std::string_view conversation_id, NewMessage message, Branch branch
    );

    // After the active leaf (a plain function, as send's).
    boost::asio::awaitable<Result<std::unique_ptr<Turn>>> start(
        const Principal& who, std::string_view conversation_id, NewMessage message
    ) {
        return start(who, conversation_id, std::move(message), Branch{});
    }

private:
    struct Prepared;
    struct Answer;
    struct ToolLog;
    // The answer, from the model call to the stored message. Its frame lasts as long as the
    // answer: what only a tool round or the ending needs is in the two coroutines below, whose
    // frames exist while they run (issue 14: memory per open stream).
    boost::asio::awaitable<void> run_turn(std::shared_ptr<Turn::State> state, Prepared prepared);

    // One round of the tool loop: runs the calls of `answer` and adds them and their results to
    // the request for the next model call and to `tool_log`.
    boost::asio::awaitable<void> run_tools(
        Turn::State& st, Prepared& p, Answer& answer, std::size_t text_before, ToolLog& tool_log
    );

    // Settles the budget and stores the answer (or fails the turn when the user's message could
    // not be stored: `write_error`), publishes it and ends the turn. Runs with the cancellation
    // state reset.
    boost::asio::awaitable<void> store_answer(
        std::shared_ptr<Turn::State> st,
        Prepared& p,
        Answer& answer,
        const llm::RouteResult& route,
        ToolLog& tool_log,
        bool cancelled,
        std::chrono::steady_clock::time_point started,
        const std::optional<Error>& write_error
    );

    boost::asio::awaitable<void> auto_title(
        Principal who, std::string conversation_id, std::string model_id, std::string first_message
    );

    store::Store& store_;
    conversations::ConversationService& conversations_;
    llm::ModelRouter& router_;
    MessageOptions options_;
    Clock clock_;
    const tools::Registry* tools_;
    usage::UsageRecorder* recorder_ = nullptr;
    usage::Budgets* budgets_ = nullptr;
};

}  // namespace parley::messages
