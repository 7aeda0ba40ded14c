#include "messages/service.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <tuple>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "async/event.hpp"
#include "common/ids.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "conversations/json.hpp"
#include "messages/call.hpp"
#include "messages/turn_state.hpp"
#include "sessions/routing.hpp"

namespace parley::messages {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

constexpr std::size_t kMaxTitle = 60;
constexpr std::int64_t kRecentForContext = 500;

// Cuts at most `max` bytes at a word boundary (or a character boundary for one long word).
std::string cut_words(std::string_view text, std::size_t max) {
    std::string s(trim(text));
    if (s.size() <= max) {
        return s;
    }
    auto cut = s.rfind(' ', max);
    if (cut == std::string::npos || cut < max / 2) {
        cut = utf8_prefix(s, max).size();
    }
    s.resize(cut);
    return std::string(trim(s));
}

}  // namespace

// Everything the model produced, gathered from its events.
struct MessageService::Answer {
    std::string text;
    std::string thinking;
    std::vector<llm::ToolCall> calls;  // of the current model call
    llm::Usage usage_before;           // of the tool loop's earlier model calls
    llm::Usage usage;
    bool has_usage = false;
    std::optional<llm::FinishReason> finish;
    std::unique_ptr<llm::StreamEvent> error;  // (not an optional: a whole event's slot)
    std::optional<std::chrono::steady_clock::time_point> first_token_at;
};

// The tool calls of a turn, for its stored message.
struct MessageService::ToolLog {
    bj::array calls;    // every call of the turn…
    bj::array results;  // …and what each gave back
    int rounds = 0;
    bool exhausted = false;  // calls past TOOL_MAX_ROUNDS were not run
};

namespace {

// A JSON document's text as a value (stored with the message); text that is not JSON stays a
// string.
bj::value json_value(std::string_view text) {
    if (auto v = json::parse(text, 64)) {
        return std::move(*v);
    }
    return bj::value(bj::string(text));
}

// A stored value back as the text a model is given: strings as they are, anything else as JSON.
std::string json_text(const bj::value& v) {
    if (v.is_string()) {
        return std::string(v.as_string());
    }
    return bj::serialize(v);
}

// llm::estimate_tokens(m.content), worked out once for a row shared between turns.
std::int64_t content_tokens(const store::Message& m) {
    std::int64_t n = m.content_tokens.get();
    if (n < 0) {
        n = llm::estimate_tokens(m.content);
        m.content_tokens.set(n);
    }
    return n;
}

// The tool calls and results an answer made (metadata.tool_calls, metadata.tool_results), as the
// messages that replay them: the assistant's calls, then one tool message per result. Empty when
// there are none.
std::vector<llm::ChatMessage> replayed_tools(const store::Message& m) {
    std::vector<llm::ChatMessage> out;
    if (m.metadata.find("\"tool_calls\"") == std::string::npos) {
        return out;
    }
    const auto parsed = json::parse(m.metadata, 32);
    if (!parsed || !parsed->is_object()) {
        return out;
    }
    const auto& meta = parsed->as_object();
    const auto* calls = meta.if_contains("tool_calls");
    const auto* results = meta.if_contains("tool_results");
    if (calls == nullptr || !calls->is_array() || results == nullptr || !results->is_array()) {
        return out;
    }
    llm::ChatMessage asked{"assistant", ""};
    std::vector<llm::ChatMessage> answers;
    // Each result answers one call: ids can repeat across a turn's rounds (Gemini numbers the
    // calls of each response from 0), so a result once used is not matched again.
    std::vector<bool> used(results->as_array().size(), false);
    for (const auto& entry : calls->as_array()) {
        const auto* o = entry.if_object();
        if (o == nullptr || !o->contains("id") || !o->at("id").is_string() ||
            !o->contains("name") || !o->at("name").is_string()) {
            continue;
        }
        llm::ToolCall call;
        call.id = std::string(o->at("id").as_string());
        call.name = std::string(o->at("name").as_string());
        call.arguments = o->contains("arguments") ? json_text(o->at("arguments")) : "{}";
        if (const auto* sig = o->if_contains("signature"); sig != nullptr && sig->is_string()) {
            call.signature = std::string(sig->as_string());
        }
        llm::ChatMessage answer{"tool", ""};
        for (std::size_t i = 0; i < used.size(); ++i) {
            const auto* ro = results->as_array()[i].if_object();
            if (used[i] || ro == nullptr || !ro->contains("tool_use_id") ||
                !ro->at("tool_use_id").is_string() ||
                ro->at("tool_use_id").as_string() != call.id) {
                continue;
            }
            used[i] = true;
            answer.content = ro->contains("result") ? json_text(ro->at("result")) : "";
            const auto* is_error = ro->if_contains("is_error");
            answer.tool_error = is_error != nullptr && is_error->is_bool() && is_error->as_bool();
            break;
        }
        answer.tool_call_id = call.id;
        answer.tool_name = call.name;
        asked.tool_calls.push_back(std::move(call));
        answers.push_back(std::move(answer));
    }
    if (asked.tool_calls.empty()) {
        return out;
    }
    out.push_back(std::move(asked));
    for (auto& a : answers) {
        out.push_back(std::move(a));
    }
    return out;
}

// What the routing rules look at (sessions/routing.hpp): the user messages and the tool results
// among the conversation's `newest_first` messages and `message`, the one being answered.
sessions::RoutingInput routing_input(
    const std::vector<store::SharedMessage>& newest_first, std::string_view message
) {
    sessions::RoutingInput in;
    in.user_message_count = 1;
    in.message = std::string(message);
    for (const auto& shared : newest_first) {
        const store::Message& m = *shared;
        if (m.role == "user") {
            ++in.user_message_count;
        } else if (m.metadata.find("\"tool_results\"") != std::string::npos) {
            const auto parsed = json::parse(m.metadata, 32);
            if (parsed && parsed->is_object()) {
                const auto* results = parsed->as_object().if_contains("tool_results");
                if (results != nullptr && results->is_array()) {
                    in.tool_result_count += static_cast<int>(results->as_array().size());
                }
            }
        }
    }
    return in;
}

// A routing decision as stored in metadata.routing and logged as a session event.
bj::object routing_json(const sessions::RoutingDecision& d) {
    bj::array reasons;
    for (const auto& r : d.reasons) {
        reasons.emplace_back(r);
    }
    return bj::object{
        {"strategy", sessions::strategy_name(d.strategy)},
        {"verbosity", sessions::verbosity_name(d.verbosity)},
        {"reasons", std::move(reasons)}};
}

}  // namespace

std::vector<llm::ChatMessage> fit_context(
    const std::vector<store::SharedMessage>& newest_first, std::int64_t budget, bool with_tools
) {
    return fit_context_counted(newest_first, budget, with_tools).messages;
}

namespace {

// Whether a row's text is better shared with the request than copied into it. Sharing keeps the
// whole row as long as the request (the answer's length: its thinking, its metadata with tool
// calls and results, its ids), copying only the text; when the remembered shapes keep the row
// anyway the sharing is free, but on PostgreSQL or past their bounds it is not. So: shared when
// the rest of the row is no larger than the text.
bool shares_well(const store::Message& m) {
    const std::size_t rest = sizeof(store::Message) + m.id.size() + m.conversation_id.size() +
                             (m.parent_id ? m.parent_id->size() : 0) +
                             (m.thinking ? m.thinking->size() : 0) + m.metadata.size();
    return rest <= m.content.size();
}

}  // namespace

FittedContext fit_context_counted(
    const std::vector<store::SharedMessage>& newest_first,
    std::int64_t budget,
    bool with_tools,
    const store::Message* newest
) {
    // Two passes (issue 14: a long conversation's turn fitted every message of a 500-message
    // context anew, a third of a send's work): which messages fit is decided from their
    // estimates alone, newest first, each stored row's estimate worked out once for the row
    // (store::Message::content_tokens); then only the messages kept go, oldest first, their rows'
    // texts shared, straight to where they go.
    struct Kept {
        const store::Message* message;
        store::SharedMessage row;                // what keeps `message`, when it is a stored row
        std::vector<llm::ChatMessage> replayed;  // its tool calls and results (with_tools)
    };

    std::vector<Kept> kept;
    kept.reserve(newest_first.size() + 1);
    std::size_t count = 0;
    std::int64_t used = 0;
    std::int64_t used_by_texts = 0;
    // Keeps m with its replayed tool messages when they fit; false when they do not (older
    // messages are dropped whole).
    const auto keep = [&](const store::Message& m, const store::SharedMessage& row) {
        if (m.status == std::string_view("error") ||
            (m.role != std::string_view("user") && m.role != std::string_view("assistant"))) {
            return true;
        }
        std::vector<llm::ChatMessage> replayed;
        if (with_tools && m.role == std::string_view("assistant")) {
            replayed = replayed_tools(m);
        }
        if (m.content.empty() && replayed.empty()) {
            return true;
        }
        std::int64_t texts = m.content.empty() ? 0 : content_tokens(m) + 4;
        std::int64_t calls = 0;
        for (const auto& r : replayed) {
            texts += llm::estimate_tokens(r.content) + 4;
            for (const auto& c : r.tool_calls) {
                calls += llm::estimate_tokens(c.arguments) + 8;
            }
        }
        if (used + texts + calls > budget) {
            return false;
        }
        used += texts + calls;
        used_by_texts += texts;
        count += replayed.size() + (m.content.empty() ? 0 : 1);
        kept.push_back({&m, row, std::move(replayed)});
        return true;
    };
    bool room = newest == nullptr || keep(*newest, nullptr);
    for (auto it = newest_first.begin(); room && it != newest_first.end(); ++it) {
        room = keep(**it, *it);
    }
    FittedContext out;
    out.tokens = used_by_texts;
    out.messages.reserve(count);
    for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
        std::move(it->replayed.begin(), it->replayed.end(), std::back_inserter(out.messages));
        if (!it->message->content.empty()) {
            auto& text = out.messages.emplace_back();
            text.role = it->message->role;
            if (it->row && shares_well(*it->message)) {
                // Shared with the row (which the remembered shapes may keep too), not copied.
                text.content = llm::MessageText(std::move(it->row), it->message->content);
            } else {
                text.content = it->message->content;
            }
        }
    }
    return out;
}

std::string clean_title(std::string_view answer) {
    std::string line(trim(answer.substr(0, answer.find('\n'))));
    std::string out;
    for (const char c : line) {
        if (c != '"' && c != '*' && c != '#' && c != '`' && c != '\'') {
            out.push_back(c);
        }
    }
    if (out.rfind("Title:", 0) == 0 || out.rfind("title:", 0) == 0) {
        out = out.substr(6);
    }
    out = cut_words(out, kMaxTitle);
    while (!out.empty() && (out.back() == '.' || out.back() == ':')) {
        out.pop_back();
    }
    return std::string(trim(out));
}

std::string title_from_message(std::string_view content) {
    std::string flat(trim(content));
    for (auto& c : flat) {
        if (c == '\n' || c == '\r' || c == '\t') {
            c = ' ';
        }
    }
    auto title = cut_words(flat, kMaxTitle);
    return title.empty() ? "New conversation" : title;
}

MessageService::MessageService(
    store::Store& store,
    conversations::ConversationService& conversations,
    llm::ModelRouter& router,
    MessageOptions options,
    Clock clock,
    const tools::Registry* tools
)
    : store_(store),
      conversations_(conversations),
      router_(router),
      options_(options),
      clock_(std::move(clock)),
      tools_(tools) {}

Turn::~Turn() {
    if (state_ && state_->running) {
        cancel(StopCause::client_left);
    }
}

const StreamStart& Turn::start() const noexcept {
    return state_->start;
}

asio::awaitable<TurnEvent> Turn::next() {
    while (state_->queue.empty()) {
        co_await state_->ready.wait();
    }
    TurnEvent e = std::move(state_->queue.front());
    state_->queue.pop_front();
    co_return e;
}

const TurnEvent* Turn::peek() const noexcept {
    return state_->queue.empty() ? nullptr : &state_->queue.front();
}

void Turn::pop() {
    state_->queue.pop_front();
}

void Turn::set_inline_reader(std::function<bool()> reader) {
    state_->inline_reader = std::move(reader);
}

asio::awaitable<bool> Turn::wait_until(std::chrono::steady_clock::time_point t) {
    // Not a coroutine: the notifier's own wait (issue 14: a frame less per delta). An event
    // already queued marks the notifier, so that the wait completes at once.
    if (!state_->queue.empty()) {
        state_->ready.notify();  // (no waiter now: it only marks)
    }
    return state_->ready.wait_until(t);
}

void Turn::wake() {
    state_->ready.notify();
}

void Turn::cancel(StopCause why) {
    if (!state_->running || state_->cancelled_by != StopCause::none) {
        return;
    }
    state_->cancelled_by = why;
    if (state_->in_model) {
        state_->cancel_signal.emit(asio::cancellation_type::terminal);
    }
}

const StreamEnd& Turn::outcome() const noexcept {
    return state_->outcome;
}

const std::optional<Error>& Turn::failure() const noexcept {
    return state_->failure;
}

bool Turn::started() const noexcept {
    return state_->started;
}

// How much of a conversation's first message asks for its title.
constexpr std::size_t kTitleInputBytes = 2000;

// Everything run_turn needs, settled by start().
// (Held in run_turn's frame for the whole answer, so only what the turn uses after it starts:
// issue 14, memory per open stream. The question itself goes to its write.)
struct MessageService::Prepared {
    std::string conversation_id;
    Principal who;
    std::unique_ptr<store::Message> user;  // moved to its write when the turn starts
    std::string user_id;
    // The question's text, as far as auto_title reads it, when the conversation has no title
    // (one is asked for after the answer); none when it has one.
    std::optional<std::string> question_for_title;
    const llm::ModelInfo* info = nullptr;
    llm::ChatRequest request;
    std::int64_t context_count = 0;
    std::optional<bj::object> routing;  // the response strategy's decision, when routing is on
    bool store_user = true;             // false when regenerating: the question is stored already
    usage::BudgetHold budget;           // the turn's reservation, settled when it ends
};

namespace {

// The in-stream error type (Anthropic's vocabulary) for an upstream failure.
// The outcome of storing a turn's user message, shared by the turn and the coroutine that writes
// it (which may outlive the turn's frame).
struct UserWrite {
    explicit UserWrite(const asio::any_io_executor& ex) : done(ex) {}

    async::Event done;           // set when the write has ended, however it ended
    std::optional<Error> error;  // when it failed
    bool stored = false;
};

// Ends a user-message write whatever happens to its coroutine (a result, an exception, the frame
// destroyed unfinished): a write that ended without storing is a failure, and `done` is set, so
// the turn waiting for it never hangs.
class EndWrite {
public:
    explicit EndWrite(std::shared_ptr<UserWrite> write) : write_(std::move(write)) {}

    ~EndWrite() {
        if (!write_->stored && !write_->error) {
            write_->error = make_error(
                ErrorType::overloaded,
                "the message could not be stored; try again",
                "the write ended without a result"
            );
        }
        write_->done.set();
    }

    EndWrite(const EndWrite&) = delete;
    EndWrite& operator=(const EndWrite&) = delete;

private:
    std::shared_ptr<UserWrite> write_;
};

// Stores a turn's user message (beside the model call) and publishes it. Whatever happens, an
// exception from the store included, it ends with `write->done` set and, unless the message was
// stored, `write->error` saying why (a store that throws: overloaded, 503); with `needed` false
// (a regeneration, whose question is stored already) it only ends. `store` and
// `service` are the MessageService's, which outlive every turn.
asio::awaitable<void> store_user_message(
    store::Store& store,
    conversations::ConversationService& service,
    std::shared_ptr<UserWrite> write,
    store::Message user,
    bool needed
) {
    const EndWrite end(write);
    if (!needed) {
        write->stored = true;  // a regeneration: the question is stored already
        co_return;
    }
    try {
        auto stored = co_await store.insert_message(user);
        if (!stored) {
            write->error = std::move(stored.error());
            co_return;
        }
    } catch (const std::exception& e) {
        write->error = make_error(
            ErrorType::overloaded, "the message could not be stored; try again", e.what()
        );
        co_return;
    }
    write->stored = true;
    if (service.listened(user.conversation_id)) {
        service.publish(
            user.conversation_id, "new_message", bj::serialize(conversations::message_json(user))
        );
    }
}

// lookup_contextual_data's data, read from the store: the conversation's message count and start,
// and the tools its session log shows were used.
class StoreSessionInfo final : public tools::SessionInfoSource {
public:
    explicit StoreSessionInfo(store::Store& store) : store_(store) {}

    asio::awaitable<Result<tools::SessionInfo>> session_info(std::string conversation_id) override {
        tools::SessionInfo info;
        auto conversation = co_await store_.find_conversation(conversation_id);
        if (!conversation) {
            co_return conversation.error();
        }
        if (!*conversation) {
            co_return make_error(ErrorType::not_found, "conversation not found");
        }
        info.started_at = (*conversation)->created_at;
        auto messages = co_await store_.list_messages(conversation_id, 0, 1);
        if (!messages) {
            co_return messages.error();
        }
        info.message_count = messages->total;
        auto events = co_await store_.list_session_events(conversation_id, std::nullopt, 5000);
        if (events) {
            for (const auto& e : *events) {
                if (e.type == "routing") {
                    const auto parsed = json::parse(e.content, 8);
                    if (parsed && parsed->is_object()) {
                        if (const auto* s = parsed->as_object().if_contains("strategy");
                            s != nullptr && s->is_string()) {
                            info.routing.push_back({std::string(s->as_string()), e.created_at});
                        }
                    }
                    continue;
                }
                if (e.type != "tool_call") {
                    continue;
                }
                const auto parsed = json::parse(e.content, 8);
                if (!parsed || !parsed->is_object() || !parsed->as_object().contains("tool")) {
                    continue;
                }
                const std::string name(parsed->as_object().at("tool").as_string());
                auto it = std::find_if(
                    info.tools_used.begin(),
                    info.tools_used.end(),
                    [&](const auto& t) { return t.name == name; }
                );
                if (it == info.tools_used.end()) {
                    info.tools_used.push_back({name, 1});
                } else {
                    ++it->count;
                }
            }
            std::stable_sort(
                info.tools_used.begin(),
                info.tools_used.end(),
                [](const auto& a, const auto& b) { return a.count > b.count; }
            );
        }
        co_return info;
    }

private:
    store::Store& store_;
};

}  // namespace

asio::awaitable<Result<store::Message>> MessageService::send(
    const Principal& who, std::string_view conversation_id, NewMessage message, Branch branch
) {
    auto turn = co_await start(who, conversation_id, std::move(message), std::move(branch));
    if (!turn) {
        co_return turn.error();
    }
    for (;;) {
        const TurnEvent e = co_await (*turn)->next();
        if (e.kind == TurnEvent::Kind::end) {
            break;
        }
    }
    if ((*turn)->failure()) {
        co_return *(*turn)->failure();
    }
    co_return (*turn)->outcome().reply;
}

asio::awaitable<Result<std::unique_ptr<Turn>>> MessageService::start(
    const Principal& who, std::string_view conversation_id, NewMessage message, Branch branch
) {
    using namespace asio::experimental::awaitable_operators;  // NOLINT
    // The conversation (ownership, settings) and the branch the turn continues (the context: the
    // path to the active leaf, or to the edited or regenerated message). Where a read is a round
    // trip they are read side by side, two in the time of one, before the first token; where
    // reads run at once on this thread (SQLite), in turn (issue 14: ~15k instructions a turn
    // fewer), and the path only of a conversation the caller may read.
    std::optional<std::string> path_end;
    if (branch.kind != Branch::Kind::append) {
        path_end = branch.message_id;
    }
    auto read_conversation = conversations_.get(who, conversation_id);
    auto read_path = store_.message_path(
        std::string(conversation_id), path_end, kRecentForContext, store::Siblings::skipped
    );
    Result<store::Conversation> conversation = store::Conversation{};
    Result<std::vector<store::PathMessage>> path = std::vector<store::PathMessage>{};
    if (store_.reads_at_once()) {
        conversation = co_await std::move(read_conversation);
        if (conversation) {
            path = co_await std::move(read_path);
        }
    } else {
        std::tie(conversation, path) =
            co_await (std::move(read_conversation) && std::move(read_path));
    }
    if (!conversation) {
        co_return conversation.error();
    }
    if (!path) {
        co_return path.error();
    }
    auto placed = place(branch, std::move(*path));
    if (!placed) {
        co_return placed.error();
    }
    auto* recent = &placed->newest_first;
    if (placed->question) {
        message.content = placed->question->content;  // a regeneration answers the stored question
    }
    if (trim(message.content).empty()) {
        co_return make_error(ErrorType::unprocessable, "`content` must not be empty");
    }
    if (!is_valid_utf8(message.content)) {
        co_return make_error(ErrorType::invalid_request, "`content` is not valid UTF-8");
    }
    if (utf8_length(message.content) > options_.max_content_chars) {
        co_return make_error(
            ErrorType::unprocessable,
            "`content` is longer than " + std::to_string(options_.max_content_chars) + " characters"
        );
    }
    const auto settings = conversations::parse_settings(conversation->settings);
    auto model = router_.resolve(message.model.value_or(conversation->model));
    if (!model) {
        co_return model.error();
    }
    const llm::ModelInfo& info = **model;
    // The response strategy (when the conversation routes) adds to the system prompt and
    // suggests generation settings; the message's and the conversation's own settings win.
    std::optional<sessions::RoutingDecision> routing;
    std::optional<sessions::GenerationHints> hints;
    if (settings.routing.value_or(false)) {
        auto input = routing_input(*recent, message.content);
        if (placed->question) {
            --input.user_message_count;  // a regenerated question is in the context already
        }
        routing = sessions::route(input);
        hints = sessions::generation_hints(routing->strategy);
    }
    const std::int64_t max_tokens =
        message.max_tokens.value_or(settings.max_tokens.value_or(std::min<std::int64_t>(
            hints ? hints->max_tokens : options_.default_max_tokens, info.max_output
        )));
    if (max_tokens < 1 || max_tokens > info.max_output) {
        co_return make_error(
            ErrorType::unprocessable,
            "max_tokens must be from 1 to " + std::to_string(info.max_output)
        );
    }
    auto temperature = message.temperature ? message.temperature : settings.temperature;
    if (!temperature && hints) {
        temperature = hints->temperature;
    }
    if (temperature && (*temperature < 0 || *temperature > 2)) {
        co_return make_error(ErrorType::unprocessable, "temperature must be from 0 to 2");
    }
    std::string system = conversation->system_prompt.value_or("");
    if (routing) {
        system += (system.empty() ? "" : "\n\n");
        system += sessions::system_prompt_addition(routing->strategy);
    }
    const std::int64_t system_tokens = llm::estimate_tokens(system);
    const std::int64_t budget =
        info.context_window - max_tokens - options_.context_margin_tokens - system_tokens;
    const std::int64_t user_tokens = llm::estimate_tokens(message.content);
    if (user_tokens + 4 > budget) {
        co_return make_error(
            ErrorType::unprocessable, "the message does not fit the model's context window"
        );
    }

    // The user's message is stored while the model is asked (not before: the write would delay
    // the first token); the turn waits for it before it ends, so a provider failure never loses
    // it, and a failed write fails the turn.
    Prepared p;
    auto user = std::make_unique<store::Message>();
    if (placed->question) {
        *user = std::move(*placed->question);  // already stored and in the context
        p.store_user = false;
    } else {
        user->id = new_uuid_v7();
        user->conversation_id = conversation->id;
        user->parent_id = placed->parent_id;
        user->role = "user";
        user->content = std::move(message.content);
        user->token_count = user_tokens;
        user->created_at = clock_();
    }
    p.request.system = system;
    if (tools_ != nullptr && info.tools && settings.tools && !settings.tools->empty()) {
        p.request.tools = tools_->specs(*settings.tools);
    }
    auto fitted = fit_context_counted(
        *recent, budget, !p.request.tools.empty(), p.store_user ? user.get() : nullptr
    );
    p.request.messages = std::move(fitted.messages);
    p.request.max_tokens = static_cast<int>(max_tokens);
    p.request.temperature = temperature;
    p.request.thinking =
        message.thinking.value_or(settings.thinking.value_or(false)) && info.thinking;
    p.context_count = static_cast<std::int64_t>(p.request.messages.size());
    if (routing) {
        p.routing = routing_json(*routing);
    }
    p.info = &info;
    p.who = who;
    p.user_id = user->id;
    if (!conversation->title) {
        p.question_for_title = user->content.substr(0, kTitleInputBytes);
    }
    p.user = std::move(user);

    const auto executor = co_await asio::this_coro::executor;
    auto state = std::make_shared<Turn::State>(executor);
    state->start.message_id = new_uuid_v7();
    state->start.conversation_id = conversation->id;
    state->start.user_message_id = p.user_id;
    state->start.model = info.id;
    const std::int64_t prompt = system_tokens + fitted.tokens;
    state->start.input_tokens = prompt;
    if (p.routing) {
        state->start.routing = bj::serialize(*p.routing);
    }
    state->start.created_unix =
        std::chrono::duration_cast<std::chrono::seconds>(clock_().time_since_epoch()).count();
    if (budgets_ != nullptr) {
        // The most this call can cost: the prompt as estimated and every output token allowed.
        auto hold = co_await budgets_->reserve(who, info.cost_micros(prompt, max_tokens));
        if (!hold) {
            co_return hold.error();
        }
        p.budget = std::move(*hold);
    }
    p.conversation_id = std::move(conversation->id);

    spawn_turn(executor, state, run_turn(state, std::move(p)));
    co_return std::make_unique<Turn>(std::move(state));
}

asio::awaitable<void> MessageService::run_turn(std::shared_ptr<Turn::State> st, Prepared p) {
    Answer answer;
    const auto started = std::chrono::steady_clock::now();
    const auto sink = [&answer, &st](llm::StreamEvent&& e) {
        switch (e.kind) {
            case llm::StreamEvent::Kind::thinking_delta:
                answer.thinking += e.text;
                st->started = true;
                st->push({TurnEvent::Kind::thinking, std::move(e.text)});
                break;
            case llm::StreamEvent::Kind::text_delta:
                if (!answer.first_token_at) {
                    answer.first_token_at = std::chrono::steady_clock::now();
                }
                answer.text += e.text;
                st->started = true;
                st->push({TurnEvent::Kind::text, std::move(e.text)});
                break;
            case llm::StreamEvent::Kind::tool_call:
                st->started = true;
                st->push(
                    {TurnEvent::Kind::tool_call,
                     e.tool_call.arguments,
                     e.tool_call.id,
                     e.tool_call.name,
                     true}
                );
                answer.calls.push_back(std::move(e.tool_call));
                break;
            case llm::StreamEvent::Kind::usage:
                // Cumulative within one model call; earlier rounds of the tool loop are added.
                answer.usage.input_tokens = answer.usage_before.input_tokens + e.usage.input_tokens;
                answer.usage.output_tokens =
                    answer.usage_before.output_tokens + e.usage.output_tokens;
                answer.has_usage = true;
                break;
            case llm::StreamEvent::Kind::stop:
                answer.finish = e.finish;
                break;
            case llm::StreamEvent::Kind::error:
                answer.error = std::make_unique<llm::StreamEvent>(std::move(e));
                break;
        }
    };
    // The user's message goes to the store beside the model call, in its own coroutine so that a
    // cancelled answer never interrupts the write. It shares the outcome rather than pointing into
    // this frame, and sets `done` however it ends.
    const auto executor = co_await asio::this_coro::executor;
    auto user_write = std::make_shared<UserWrite>(executor);
    asio::co_spawn(
        executor,
        store_user_message(store_, conversations_, user_write, std::move(*p.user), p.store_user),
        [](const std::exception_ptr& e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    log::error("storing the user message failed", {{"what", x.what()}});
                }
            }
        }
    );
    p.user.reset();  // moved to its write
    llm::RouteResult route;
    route.model = p.info->id;
    route.provider = p.info->provider;
    bool aborted = false;
    ToolLog tool_log;
    while (st->cancelled_by == StopCause::none) {
        const std::size_t text_before = answer.text.size();
        answer.calls.clear();
        answer.finish.reset();
        st->in_model = true;
        try {
            route = co_await router_.stream(*p.info, p.request, sink);
        } catch (const std::exception& e) {
            aborted = true;
            if (st->cancelled_by == StopCause::none) {
                log::error("model stream failed", {{"what", e.what()}});
            }
        }
        st->in_model = false;
        // The tool loop: the model asked for tools; run them and ask again with the results.
        if (aborted || !route.ok || answer.calls.empty() || tools_ == nullptr ||
            st->cancelled_by != StopCause::none) {
            break;
        }
        if (tool_log.rounds == options_.tool_max_rounds) {
            tool_log.exhausted = true;
            break;
        }
        ++tool_log.rounds;
        answer.usage_before = answer.usage;
        co_await run_tools(*st, p, answer, text_before, tool_log);
    }
    const bool cancelled = st->cancelled_by != StopCause::none;
    if (cancelled || aborted) {
        // What follows must run to the end: the cancellation was for the provider request.
        co_await asio::this_coro::reset_cancellation_state();
        route.ok = false;
    }
    co_await user_write->done.wait();
    co_await store_answer(st, p, answer, route, tool_log, cancelled, started, user_write->error);
}

asio::awaitable<void> MessageService::run_tools(
    Turn::State& st, Prepared& p, Answer& answer, std::size_t text_before, ToolLog& tool_log
) {
    llm::ChatMessage asked{"assistant", answer.text.substr(text_before)};
    asked.tool_calls = answer.calls;
    p.request.messages.push_back(std::move(asked));
    StoreSessionInfo session_info(store_);
    const tools::ToolContext context{p.who, p.conversation_id, &session_info};
    for (const auto& call : answer.calls) {
        const bool offered = std::any_of(
            p.request.tools.begin(),
            p.request.tools.end(),
            [&call](const llm::ToolSpec& t) { return t.name == call.name; }
        );
        tools::ToolResult result;
        if (!offered) {
            result = tools::ToolResult::failure("the tool " + call.name + " is not offered here");
        } else {
            result = co_await tools_->run(call, context, options_.tool_timeout);
        }
        st.push({TurnEvent::Kind::tool_result, result.content, call.id, call.name, result.ok});
        bj::object stored_call{
            {"id", call.id},
            {"name", call.name},
            {"arguments", json_value(call.arguments)},
        };
        if (!call.signature.empty()) {
            stored_call["signature"] = call.signature;  // Gemini's, needed to replay the call
        }
        tool_log.calls.push_back(std::move(stored_call));
        tool_log.results.push_back(bj::object{
            {"tool_use_id", call.id},
            {"name", call.name},
            {"result", json_value(result.content)},
            {"is_error", !result.ok},
        });
        llm::ChatMessage answered{"tool", result.content};
        answered.tool_call_id = call.id;
        answered.tool_name = call.name;
        answered.tool_error = !result.ok;
        p.request.messages.push_back(std::move(answered));
    }
}

asio::awaitable<void> MessageService::store_answer(
    std::shared_ptr<Turn::State> st,
    Prepared& p,
    Answer& answer,
    const llm::RouteResult& route,
    ToolLog& tool_log,
    bool cancelled,
    std::chrono::steady_clock::time_point started,
    const std::optional<Error>& write_error
) {
    using namespace asio::experimental::awaitable_operators;  // NOLINT
    const auto finished = std::chrono::steady_clock::now();
    store::Message reply;
    reply.content = answer.text;  // what settle_tokens estimates from without a usage report
    // The turn's exact cost (every tool round included): what the answer bills and the budget
    // settles.
    settle_tokens(
        reply,
        router_.catalog().find(route.model),
        route.ok,
        answer.has_usage ? &answer.usage : nullptr,
        st->start.input_tokens
    );
    if (write_error) {
        if (budgets_ != nullptr) {
            co_await budgets_->settle(std::move(p.budget), reply.cost_micros);
        }
        // Without the user's message there is no turn to attach an answer to.
        log::error("could not store the user message", {{"detail", write_error->detail}});
        st->fail(*write_error);
        co_return;
    }

    reply.id = st->start.message_id;
    reply.conversation_id = p.conversation_id;
    reply.parent_id = p.user_id;
    reply.role = "assistant";
    if (!answer.thinking.empty()) {
        reply.thinking = answer.thinking;
    }
    reply.model = route.model;
    reply.provider = route.provider;
    reply.latency_ms = std::max<std::int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(finished - started).count()
    );
    if (answer.first_token_at) {
        reply.ttft_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(*answer.first_token_at - started)
                .count();
    }
    bj::object metadata{
        {"fallback_used", route.fallback_used}, {"context_messages", p.context_count}};
    if (p.routing) {
        metadata["routing"] = *p.routing;
    }
    if (!tool_log.calls.empty()) {
        // The turn's tool calls and results: shown with the message, replayed by fit_context.
        metadata["tool_calls"] = std::move(tool_log.calls);
        metadata["tool_results"] = std::move(tool_log.results);
        metadata["tool_rounds"] = tool_log.rounds;
        if (tool_log.exhausted) {
            metadata["tool_rounds_exhausted"] = true;
        }
    }
    settle_ending(*st, reply, route.ok, answer.finish, answer.error.get());
    if (cancelled) {
        metadata["cancelled_by"] = st->cancelled_by == StopCause::shutdown ? "shutdown" : "client";
    } else if (!route.ok && answer.error) {
        metadata["error"] = std::string(llm::upstream_error_name(answer.error->error));
    }
    StreamEnd& end = st->outcome;
    reply.metadata = bj::serialize(metadata);
    reply.created_at = clock_();
    // Where writes commit in groups (SQLite), the budget is settled and the answer stored side by
    // side: one wait, and usually one transaction (the settle is queued first, and the answer
    // joins its batch unless the writer took the settle alone). Neither write can be cancelled
    // there, so `&&` cannot stop the settle half done. Elsewhere, one after the other as before.
    Result<void> stored;
    if (budgets_ != nullptr && store_.commits_in_groups()) {
        stored = co_await (
            budgets_->settle(std::move(p.budget), reply.cost_micros) && store_.insert_message(reply)
        );
    } else {
        if (budgets_ != nullptr) {
            co_await budgets_->settle(std::move(p.budget), reply.cost_micros);
        }
        stored = co_await store_.insert_message(reply);
    }
    if (!stored) {
        log::error(
            "could not store the answer",
            {{"message_id", reply.id}, {"detail", stored.error().detail}}
        );
        if (!st->failure) {
            // The store's own class: a full or locked database is overloaded_error (retry later).
            end.error_type = std::string(error_type_name(stored.error().type));
            st->failure = stored.error();
            end.error_message = "the answer could not be stored";
        }
    } else if (conversations_.listened(p.conversation_id)) {
        const std::string json = bj::serialize(conversations::message_json(reply));
        conversations_.publish(p.conversation_id, "new_message", json);
        conversations_.publish(p.conversation_id, "message.completed", json);
    }

    if (p.question_for_title) {
        asio::co_spawn(
            co_await asio::this_coro::executor,
            auto_title(p.who, p.conversation_id, route.model, std::move(*p.question_for_title)),
            [](const std::exception_ptr& e) {
                if (e) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& x) {
                        log::warn("auto-title failed", {{"what", x.what()}});
                    }
                }
            }
        );
    }
    end.reply = std::move(reply);
    st->running = false;
    st->push({TurnEvent::Kind::end, {}});
}

asio::awaitable<BackgroundAnswer> ask_in_background(
    llm::ModelRouter& router,
    const llm::ModelInfo& model,
    llm::ChatRequest request,
    Principal who,
    usage::UsageRecorder* recorder,
    usage::CallKind kind,
    usage::Budgets* budgets
) {
    BackgroundAnswer answer;
    std::optional<usage::BudgetHold> hold;
    if (budgets != nullptr) {
        auto reserved = co_await budgets->reserve(
            who, model.cost_micros(estimate_prompt_tokens(request), request.max_tokens)
        );
        if (!reserved) {
            log::info(
                "a background model call was skipped",
                {{"kind", std::string(usage::call_kind_name(kind))},
                 {"reason", reserved.error().message}}
            );
            answer.skipped = true;
            co_return answer;
        }
        hold = std::move(*reserved);
    }
    llm::Usage usage;
    const auto sink = [&answer, &usage](llm::StreamEvent&& e) {
        if (e.kind == llm::StreamEvent::Kind::text_delta) {
            answer.text += e.text;
        } else if (e.kind == llm::StreamEvent::Kind::usage) {
            usage = e.usage;  // cumulative
        }
    };
    const auto route = co_await router.stream(model, request, sink);
    answer.ok = route.ok;
    // Billed as the provider counted it; the model that answered (after any fallback).
    const llm::ModelInfo* answered = router.catalog().find(route.model);
    const std::int64_t cost =
        answered != nullptr ? answered->cost_micros(usage.input_tokens, usage.output_tokens) : 0;
    // The usage record first, then the budget's settle: whoever sees the call in the budget's
    // spend finds it in the usage too (the reservation holds its cost in the meantime).
    if (recorder != nullptr) {
        usage::ModelCall call;
        call.kind = kind;
        call.model = route.model;
        call.provider = route.provider;
        call.input_tokens = usage.input_tokens;
        call.output_tokens = usage.output_tokens;
        call.cost_micros = cost;
        if (auto recorded = co_await recorder->record(std::move(who), std::move(call)); !recorded) {
            log::warn(
                "a background model call was not recorded in usage",
                {{"kind", std::string(usage::call_kind_name(kind))},
                 {"detail", recorded.error().detail}}
            );
        }
    }
    if (hold) {
        co_await budgets->settle(std::move(*hold), cost);
    }
    co_return answer;
}

asio::awaitable<void> MessageService::auto_title(
    Principal who, std::string conversation_id, std::string model_id, std::string first_message
) {
    std::string title;
    const llm::ModelInfo* model = router_.catalog().find(model_id);
    if (model != nullptr && model->provider != "mock" && router_.available(*model)) {
        llm::ChatRequest request;
        request.system = "You name conversations. Answer with the title only.";
        request.messages.push_back(
            {"user",
             "Give a title of at most six words, without quotes, for a conversation that starts "
             "with:\n\n" +
                 first_message.substr(0, kTitleInputBytes)}
        );
        request.max_tokens = 24;
        const auto answer = co_await ask_in_background(
            router_,
            *model,
            std::move(request),
            std::move(who),
            recorder_,
            usage::CallKind::title,
            budgets_
        );
        if (answer.ok) {
            title = clean_title(answer.text);
        }
    }
    if (title.empty()) {
        title = title_from_message(first_message);
    }
    auto set = co_await conversations_.set_title_if_untitled(conversation_id, title);
    if (!set) {
        log::warn(
            "could not store the title",
            {{"conversation_id", conversation_id}, {"detail", set.error().detail}}
        );
    }
}

}  // namespace parley::messages
