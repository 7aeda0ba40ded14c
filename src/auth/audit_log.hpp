// The audit log of security events (issue 16): sign-ups, logins and failed logins, refresh-token
// reuse, API keys created and revoked, admin changes. Events are written by one writer on a
// thread of its own, in batches (one transaction for whatever accumulated while the previous batch
// was written), so a burst of failed logins costs one insert, not one each, and no request thread
// waits for another's write.
// - `commit()` is for events of an operation that succeeds: the caller waits until its event is
//   stored (its batch committed) before answering, so no success is ever answered without its row.
// - `record()` is for failures (a failed login, a reused token), whose answer is an error anyway:
//   the caller does not wait; the event is written with the next batch.
// A batch that fails is retried with back-off; after `attempts` its waiters get the error and its
// events are kept for the next batch (at most `max_pending`, beyond which the oldest are dropped
// and logged). close() writes what is pending and stops. `detail` never holds a secret: keys that
// name one (password, token, secret, key_hash…) are refused at record time.
// Thread-safe: record() and commit() may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "common/error.hpp"
#include "common/time.hpp"
#include "store/admin_store.hpp"

namespace parley::auth {

// The kinds of event, as stored in audit_log.kind and filtered by GET /api/v1/admin/audit.
namespace audit_kind {
inline constexpr std::string_view signup = "signup";
inline constexpr std::string_view login = "login";
inline constexpr std::string_view login_failed = "login_failed";
inline constexpr std::string_view refresh_reuse = "refresh_reuse";
inline constexpr std::string_view api_key_created = "api_key_created";
inline constexpr std::string_view api_key_revoked = "api_key_revoked";
inline constexpr std::string_view admin_user_updated = "admin_user_updated";
inline constexpr std::string_view admin_granted = "admin_granted";  // ADMIN_EMAILS, first account
inline constexpr std::string_view budget_exceeded = "budget_exceeded";  // reserved for budgets
}  // namespace audit_kind

// Every kind above, for validating filters.
bool is_audit_kind(std::string_view kind) noexcept;

struct AuditRecord {
    std::string_view kind;
    std::optional<std::string> user_id{};
    std::optional<std::string> actor_id{};
    std::optional<std::string> ip{};
    boost::json::object detail{};
};

struct AuditOptions {
    std::size_t max_batch = 500;
    int attempts = 3;                       // per batch, before its waiters get the error
    std::chrono::milliseconds backoff{50};  // doubled after each failed attempt
    std::chrono::milliseconds pause_after_failure{1'000};  // before a failed batch is tried again
    std::size_t max_pending = 10'000;
};

class AuditLog {
public:
    explicit AuditLog(
        store::AdminStore& store, AuditOptions options = {}, Clock clock = system_now
    );
    ~AuditLog();
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    // Queues the event; it is written with the next batch. Never blocks, never throws.
    void record(AuditRecord r);

    // Queues the event and waits until it is stored. Resumes on the caller's executor. Errors: the
    // store's (overloaded, api) once the batch failed `attempts` times.
    boost::asio::awaitable<Result<void>> commit(AuditRecord r);

    // Writes what is pending (each batch tried `attempts` times) and stops the writer. Called
    // once the server has stopped; idempotent.
    void close();

    // Events given up (the queue overflowed while the database failed), for tests and logs.
    std::size_t dropped() const noexcept;

    // True when `key` names a secret that no audit detail may hold.
    static bool secret_key(std::string_view key) noexcept;

private:
    struct Waiter;
    struct Impl;  // the writer's io_context, thread and queue: no Asio I/O in this header
    std::unique_ptr<Impl> impl_;
};

}  // namespace parley::auth
