#include "messages/sessions.hpp"

#include <algorithm>
#include <atomic>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "auth/tokens.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "messages/service.hpp"

namespace parley::messages {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kTranscriptChars = 24'000;
constexpr std::int64_t kTranscriptMessages = 500;

std::string one_line(std::string_view text, std::size_t max) {
    std::string out;
    for (const char ch : text.substr(0, max)) {
        out += ch == '\n' || ch == '\r' ? ' ' : ch;
    }
    if (text.size() > max) {
        out += "…";
    }
    return out;
}

}  // namespace

std::string transcript(const std::vector<store::Message>& oldest_first, std::size_t max_chars) {
    std::vector<std::string> lines;
    for (const auto& m : oldest_first) {
        std::string who = m.role == "user" ? "User" : m.role == "assistant" ? "Assistant" : "Tool";
        lines.push_back(who + ": " + m.content);
    }
    // Keep the newest lines that fit.
    std::size_t used = 0;
    std::size_t first = lines.size();
    while (first > 0 && used + lines[first - 1].size() + 1 <= max_chars) {
        used += lines[--first].size() + 1;
    }
    std::string out;
    for (std::size_t i = first; i < lines.size(); ++i) {
        out += lines[i];
        out += '\n';
    }
    return out;
}

std::string extractive_summary(const std::vector<store::Message>& oldest_first) {
    std::int64_t user = 0;
    std::int64_t assistant = 0;
    std::int64_t tools = 0;
    std::string first_question;
    std::string last_answer;
    for (const auto& m : oldest_first) {
        if (m.role == "user") {
            ++user;
            if (first_question.empty()) {
                first_question = one_line(m.content, 160);
            }
        } else if (m.role == "assistant") {
            ++assistant;
            last_answer = one_line(m.content, 200);
        } else if (m.role == "tool") {
            ++tools;
        }
    }
    std::string out = "A session of " + std::to_string(user) + " user message" +
                      (user == 1 ? "" : "s") + " and " + std::to_string(assistant) +
                      " assistant repl" + (assistant == 1 ? "y" : "ies");
    if (tools > 0) {
        out += ", with " + std::to_string(tools) + " tool result" + (tools == 1 ? "" : "s");
    }
    out += ".";
    if (!first_question.empty()) {
        out += " The user first asked: \"" + first_question + "\".";
    }
    if (!last_answer.empty()) {
        out += " The assistant last answered: \"" + last_answer + "\".";
    }
    return out;
}

SessionService::SessionService(
    store::Store& store,
    conversations::ConversationService& conversations,
    auth::AuthService& auth,
    llm::ModelRouter& router,
    Clock clock
)
    : store_(store),
      conversations_(conversations),
      auth_(auth),
      router_(router),
      clock_(std::move(clock)) {}

SessionService::~SessionService() = default;

// A claim's state, shared with the coroutine that renews its lease.
struct SessionService::Claim::Lease {
    SessionService* owner = nullptr;
    std::string id;
    std::string token;  // this claim's, the lease's owner in `locks`
    events::SessionLocks* locks = nullptr;
    std::chrono::milliseconds ttl{};
    std::atomic<bool> held{true};
    std::shared_ptr<asio::steady_timer> renewal;  // waits between renewals; on its executor
};

namespace {

// Renews a claim's lease every ttl/3 until the claim is released.
asio::awaitable<void> renew(std::shared_ptr<SessionService::Claim::Lease> lease) {
    while (lease->held) {
        lease->renewal->expires_after(lease->ttl / 3);
        boost::system::error_code ec;
        co_await lease->renewal->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!lease->held) {
            break;
        }
        if (!co_await lease->locks->acquire(lease->id, lease->token, lease->ttl)) {
            log::warn(
                "a session's lease was taken by another instance while its socket was open",
                {{"conversation_id", lease->id}}
            );
        }
        if (!lease->held) {  // released while renewing: give back what the renewal took
            lease->locks->release(lease->id, lease->token);
        }
    }
}

}  // namespace

SessionService::Claim::~Claim() {
    if (lease_ == nullptr) {
        return;
    }
    lease_->held = false;
    lease_->owner->release(lease_->id);
    if (lease_->locks != nullptr) {
        lease_->locks->release(lease_->id, lease_->token);
    }
    if (lease_->renewal) {
        // Stop the renewal's wait now (on its executor: timers are not thread-safe), so no
        // timer outlives the socket and delays a shutdown.
        asio::post(lease_->renewal->get_executor(), [lease = lease_] { lease->renewal->cancel(); });
    }
}

void SessionService::set_locks(events::SessionLocks* locks, std::chrono::milliseconds ttl) {
    locks_ = locks;
    lease_ttl_ = ttl;
}

asio::awaitable<std::optional<SessionService::Claim>> SessionService::claim(
    const std::string& conversation_id
) {
    {
        const std::lock_guard lock(mutex_);
        if (!active_.insert(conversation_id).second) {
            co_return std::nullopt;
        }
    }
    auto lease = std::make_shared<Claim::Lease>();
    lease->owner = this;
    lease->id = conversation_id;
    lease->token = new_uuid_v7();
    lease->locks = locks_;
    lease->ttl = lease_ttl_;
    Claim claim(lease);  // from here on, an early return releases what was taken
    if (locks_ != nullptr) {
        if (!co_await locks_->acquire(conversation_id, lease->token, lease_ttl_)) {
            co_return std::nullopt;
        }
        lease->renewal = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
        asio::co_spawn(lease->renewal->get_executor(), renew(lease), asio::detached);
    }
    co_return std::optional<Claim>(std::move(claim));
}

void SessionService::release(const std::string& conversation_id) {
    const std::lock_guard lock(mutex_);
    active_.erase(conversation_id);
}

std::shared_ptr<SessionLog> SessionService::open_log(
    const std::string& conversation_id, const asio::any_io_executor& executor
) {
    return std::make_shared<SessionLog>(
        store_, conversation_id, executor, SessionLogOptions{}, clock_
    );
}

asio::awaitable<Result<Principal>> SessionService::caller(
    const Principal& who, std::optional<std::string> user_id
) {
    if (!who.anonymous || !user_id || user_id->empty()) {
        co_return who;
    }
    co_return co_await guest(std::move(*user_id));
}

asio::awaitable<Result<Principal>> SessionService::guest(std::string user_id) {
    if (user_id.empty() || user_id.size() > 128) {
        co_return make_error(ErrorType::unprocessable, "user_id must be 1 to 128 characters");
    }
    // The same name is the same guest on every instance: the id is derived from it.
    const std::string hex = auth::sha256_hex("parley-guest\n" + user_id);
    std::string id = uuid_v8_from_hex(hex);
    auto user = co_await auth_.ensure_passwordless_user(
        std::move(id), "guest-" + hex.substr(0, 16) + "@parley.localhost"
    );
    if (!user) {
        co_return user.error();
    }
    co_return Principal{user->id, {}, kAllScopes, true};
}

asio::awaitable<Result<std::vector<store::SessionEvent>>> SessionService::events(
    const Principal& who,
    std::string_view conversation_id,
    std::optional<std::string> after,
    std::int64_t limit
) {
    auto c = co_await conversations_.get(who, conversation_id);
    if (!c) {
        co_return c.error();
    }
    co_return co_await store_.list_session_events(c->id, std::move(after), limit);
}

asio::awaitable<Result<store::Conversation>> SessionService::summarize(
    const Principal& who, std::string_view conversation_id
) {
    auto found = co_await conversations_.get(who, conversation_id);
    if (!found) {
        co_return found.error();
    }
    store::Conversation c = std::move(*found);
    auto page = co_await store_.list_messages(c.id, 0, kTranscriptMessages);
    if (!page) {
        co_return page.error();
    }
    std::string summary;
    const llm::ModelInfo* model = router_.catalog().find(c.model);
    if (model != nullptr && model->provider != "mock" && router_.available(*model)) {
        llm::ChatRequest request;
        request.system =
            "You summarise conversations between a user and an AI assistant. Write three to five "
            "sentences: what the user wanted, what the assistant answered, which tools were used "
            "and what is still open.";
        request.messages.push_back({"user", transcript(page->items, kTranscriptChars)});
        request.max_tokens = 300;
        auto answer = co_await ask_in_background(
            router_, *model, std::move(request), who, recorder_, usage::CallKind::summary, budgets_
        );
        if (answer.skipped) {
            summary = extractive_summary(page->items);  // a spent budget: no model, not an error
        } else if (!answer.ok || answer.text.empty()) {
            co_return make_error(ErrorType::upstream, "the model could not write a summary");
        } else {
            summary = std::move(answer.text);
        }
    } else {
        summary = extractive_summary(page->items);
    }
    // Read again: the conversation may have changed while the model wrote.
    auto current = co_await store_.find_conversation(c.id);
    if (!current) {
        co_return current.error();
    }
    if (!*current) {
        co_return make_error(ErrorType::not_found, "conversation not found");
    }
    c = std::move(**current);
    c.summary = std::move(summary);
    c.summary_updated_at = clock_();
    if (auto saved = co_await store_.update_conversation(c); !saved) {
        co_return saved.error();
    }
    conversations_.publish(c.id, "conversation.updated", R"({"summary":true})");
    co_return c;
}

void SessionService::summarize_later(
    Principal who, std::string conversation_id, asio::any_io_executor executor
) {
    asio::co_spawn(
        executor,
        [](SessionService* self, Principal p, std::string id) -> asio::awaitable<void> {
            auto done = co_await self->summarize(p, id);
            if (!done) {
                log::warn(
                    "session summary failed",
                    {{"conversation_id", id}, {"error", done.error().message}}
                );
            }
        }(this, std::move(who), std::move(conversation_id)),
        [](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    log::warn("session summary failed", {{"what", x.what()}});
                }
            }
        }
    );
}

asio::awaitable<Result<SessionSummary>> SessionService::session_summary(
    const Principal& who, std::string_view session_id
) {
    auto found = co_await conversations_.find_session(who, session_id);
    if (!found) {
        if (found.error().type == ErrorType::not_found) {
            co_return make_error(ErrorType::not_found, "no summary for this session yet");
        }
        co_return found.error();
    }
    if (!found->summary) {
        co_return make_error(ErrorType::not_found, "no summary for this session yet");
    }
    SessionSummary out;
    out.session_id = std::string(session_id);
    out.summary = *found->summary;
    out.start_time = found->created_at;
    out.end_time = found->summary_updated_at.value_or(found->updated_at);
    auto messages = co_await store_.list_messages(found->id, 0, 1);
    if (!messages) {
        co_return messages.error();
    }
    out.message_count = messages->total;
    // The session's own bounds when its event log has them.
    auto events = co_await store_.list_session_events(found->id, std::nullopt, 1);
    if (events && !events->empty()) {
        out.start_time = events->front().created_at;
    }
    co_return out;
}

}  // namespace parley::messages
