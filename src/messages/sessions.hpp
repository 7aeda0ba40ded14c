// WebSocket sessions of a conversation (seed 004): one socket per session at a time, the session
// event log, the guest users of the seed's `?user_id=` in open mode, and session summaries (in the
// background when a session with a turn ends, or on demand). No HTTP types here.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "auth/service.hpp"
#include "common/error.hpp"
#include "common/principal.hpp"
#include "conversations/service.hpp"
#include "events/session_locks.hpp"
#include "llm/router.hpp"
#include "messages/session_log.hpp"
#include "store/store.hpp"
#include "usage/budget.hpp"
#include "usage/recorder.hpp"

namespace parley::messages {

// What GET /api/sessions/{session_id}/summary answers (the seed's shape).
struct SessionSummary {
    std::string session_id;
    std::string summary;
    TimePoint start_time;
    TimePoint end_time;
    std::int64_t message_count = 0;
};

class SessionService {
public:
    SessionService(
        store::Store& store,
        conversations::ConversationService& conversations,
        auth::AuthService& auth,
        llm::ModelRouter& router,
        Clock clock = system_now
    );
    ~SessionService();
    SessionService(const SessionService&) = delete;
    SessionService& operator=(const SessionService&) = delete;

    // The right to run the one socket of a conversation's session; released when destroyed.
    class Claim {
    public:
        struct Lease;

        explicit Claim(std::shared_ptr<Lease> lease) : lease_(std::move(lease)) {}

        Claim(Claim&& other) noexcept = default;
        Claim& operator=(Claim&&) = delete;
        Claim(const Claim&) = delete;
        Claim& operator=(const Claim&) = delete;
        ~Claim();

    private:
        std::shared_ptr<Lease> lease_;
    };

    // With instances sharing a database (REDIS_URL), claims are leases in `locks` as well, of
    // `ttl`, renewed every ttl/3 while held; a crashed instance's lapse after `ttl`. Call before
    // serving; `locks` must outlive the service and every claim.
    void set_locks(events::SessionLocks* locks, std::chrono::milliseconds ttl);

    // Claims the conversation for one socket, in this process and (with locks) across instances;
    // nullopt while another socket has it (a second socket on one session is refused rather than
    // have the two interleave their turns).
    boost::asio::awaitable<std::optional<Claim>> claim(const std::string& conversation_id);

    // Where the summaries' model calls are recorded (usage_records, kind "summary"); none: not
    // recorded. Call before serving.
    void set_usage_recorder(usage::UsageRecorder* recorder) noexcept { recorder_ = recorder; }

    // Where the summary's model call counts toward budgets (skipped, with the extractive summary
    // instead, when one is spent); none: no budgets.
    void set_budgets(usage::Budgets* budgets) noexcept { budgets_ = budgets; }

    // The event log of a session of `conversation_id`, writing on `executor`.
    std::shared_ptr<SessionLog> open_log(
        const std::string& conversation_id, const boost::asio::any_io_executor& executor
    );

    // The principal the seed's `?user_id=` names in open mode: a guest user created on first use
    // (nobody can sign in as it). Errors: unprocessable for an unusable id; the store's.
    boost::asio::awaitable<Result<Principal>> guest(std::string user_id);

    // Who a session request acts as: `who`, or in open mode without a credential (`who` is the
    // anonymous local user) the guest that the seed's `?user_id=` names. Errors: as guest().
    boost::asio::awaitable<Result<Principal>> caller(
        const Principal& who, std::optional<std::string> user_id
    );

    // A conversation's session events, oldest first. Errors: as ConversationService::get.
    boost::asio::awaitable<Result<std::vector<store::SessionEvent>>> events(
        const Principal& who,
        std::string_view conversation_id,
        std::optional<std::string> after,
        std::int64_t limit
    );

    // Writes the conversation's summary now (both sides and tool use in the transcript) and
    // returns the conversation. Errors: as get; upstream/overloaded when the model fails.
    boost::asio::awaitable<Result<store::Conversation>> summarize(
        const Principal& who, std::string_view conversation_id
    );

    // summarize() in the background, on `executor` (failures are logged).
    void summarize_later(
        Principal who, std::string conversation_id, boost::asio::any_io_executor executor
    );

    // The seed's summary of session `session_id` (a conversation id or a session key of `who`).
    // Errors: not_found while there is no summary yet (or no such session), permission.
    boost::asio::awaitable<Result<SessionSummary>> session_summary(
        const Principal& who, std::string_view session_id
    );

private:
    void release(const std::string& conversation_id);

    store::Store& store_;
    conversations::ConversationService& conversations_;
    auth::AuthService& auth_;
    llm::ModelRouter& router_;
    Clock clock_;
    events::SessionLocks* locks_ = nullptr;
    usage::UsageRecorder* recorder_ = nullptr;
    usage::Budgets* budgets_ = nullptr;
    std::chrono::milliseconds lease_ttl_{30'000};
    std::mutex mutex_;
    std::unordered_set<std::string> active_;
};

// The transcript a summary is written from: each message as "User: …", "Assistant: …" or
// "Tool <name>: …", oldest first, at most `max_chars` (the oldest are dropped first).
std::string transcript(const std::vector<store::Message>& oldest_first, std::size_t max_chars);

// A summary without a model (the mock): who said how much and the first question, deterministic.
std::string extractive_summary(const std::vector<store::Message>& oldest_first);

}  // namespace parley::messages
