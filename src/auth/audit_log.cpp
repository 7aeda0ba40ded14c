#include "auth/audit_log.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "async/event.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"

namespace parley::auth {

namespace asio = boost::asio;

bool is_audit_kind(std::string_view kind) noexcept {
    constexpr std::array kKinds{
        audit_kind::signup,
        audit_kind::login,
        audit_kind::login_failed,
        audit_kind::refresh_reuse,
        audit_kind::api_key_created,
        audit_kind::api_key_revoked,
        audit_kind::admin_user_updated,
        audit_kind::admin_granted,
        audit_kind::budget_exceeded,
    };
    return std::find(kKinds.begin(), kKinds.end(), kind) != kKinds.end();
}

bool AuditLog::secret_key(std::string_view key) noexcept {
    // Names, not values: the writers choose the keys, and a key that says "secret" is a bug.
    constexpr std::array<std::string_view, 7> kSecretWords{
        "password", "token", "secret", "hash", "sha256", "credential", "authorization"};
    for (const auto word : kSecretWords) {
        if (key.size() >= word.size()) {
            for (std::size_t i = 0; i + word.size() <= key.size(); ++i) {
                if (iequals(key.substr(i, word.size()), word)) {
                    return true;
                }
            }
        }
    }
    return key == "key";  // the API key itself (key_id, key_name are fine)
}

// A commit() in progress: the writer sets `error` (or not) and then `done`, on the waiter's own
// executor.
struct AuditLog::Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : executor(ex), done(ex) {}

    asio::any_io_executor executor;
    async::Event done;
    std::optional<Error> error;
};

struct AuditLog::Impl {
    struct Pending {
        store::AuditEvent event;
        std::shared_ptr<Waiter> waiter;  // null for record()
    };

    Impl(store::AdminStore& s, AuditOptions o, Clock c)
        : db(s),
          options(o),
          clock(std::move(c)),
          work(asio::make_work_guard(ctx)),
          wake(ctx.get_executor()) {}

    void enqueue(Pending p) {
        {
            std::lock_guard lock(mutex);
            pending.push_back(std::move(p));
            trim();
        }
        asio::post(ctx, [this] { wake.notify(); });
    }

    // Drops the oldest events beyond max_pending (only while the database keeps failing).
    void trim() {
        while (pending.size() > options.max_pending) {
            auto& oldest = pending.front();
            log::error(
                "audit event dropped: the queue is full",
                {{"kind", oldest.event.kind}, {"audit_id", oldest.event.id}}
            );
            if (oldest.waiter) {
                finish(oldest.waiter, make_error(ErrorType::overloaded, "audit log unavailable"));
            }
            pending.pop_front();
            ++dropped;
        }
    }

    static void finish(const std::shared_ptr<Waiter>& w, std::optional<Error> error) {
        w->error = std::move(error);
        asio::post(w->executor, [w] { w->done.set(); });
    }

    asio::awaitable<void> write_loop() {
        asio::steady_timer timer(ctx);
        for (;;) {
            std::vector<Pending> batch;
            bool stop = false;
            {
                std::lock_guard lock(mutex);
                while (!pending.empty() && batch.size() < options.max_batch) {
                    batch.push_back(std::move(pending.front()));
                    pending.pop_front();
                }
                stop = closing;
            }
            if (batch.empty()) {
                if (stop) {
                    co_return;
                }
                co_await wake.wait();
                continue;
            }
            std::vector<store::AuditEvent> events;
            events.reserve(batch.size());
            for (const auto& p : batch) {
                events.push_back(p.event);
            }
            Result<void> written = make_error(ErrorType::api, "audit log not written");
            auto pause = options.backoff;
            for (int attempt = 0; attempt < options.attempts; ++attempt) {
                if (attempt > 0) {
                    timer.expires_after(pause);
                    co_await timer.async_wait(asio::use_awaitable);
                    pause *= 2;
                }
                written = co_await db.insert_audit_events(events);
                if (written) {
                    break;
                }
            }
            if (!written) {
                log::error(
                    "audit events not stored",
                    {{"events", static_cast<std::int64_t>(batch.size())},
                     {"detail", written.error().detail}}
                );
            }
            for (auto& p : batch) {
                if (p.waiter) {
                    finish(
                        p.waiter, written ? std::nullopt : std::optional<Error>(written.error())
                    );
                }
            }
            if (!written) {
                // Kept for the next batch (the database may be back by then), but not at close.
                std::lock_guard lock(mutex);
                if (closing) {
                    dropped += batch.size();
                } else {
                    for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
                        it->waiter.reset();
                        pending.push_front(std::move(*it));
                    }
                    trim();
                }
            }
            if (!written) {
                // Not at once: a database that is down would be hammered in a loop.
                timer.expires_after(options.pause_after_failure);
                co_await timer.async_wait(asio::use_awaitable);
            }
        }
    }

    store::AdminStore& db;
    AuditOptions options;
    Clock clock;
    asio::io_context ctx{1};
    asio::executor_work_guard<asio::io_context::executor_type> work;
    async::Notifier wake;
    std::mutex mutex;
    std::deque<Pending> pending;
    bool closing = false;
    std::atomic<std::size_t> dropped{0};
    std::thread thread;
};

AuditLog::AuditLog(store::AdminStore& store, AuditOptions options, Clock clock)
    : impl_(std::make_unique<Impl>(store, options, std::move(clock))) {
    asio::co_spawn(impl_->ctx, impl_->write_loop(), [](const std::exception_ptr& e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                log::error("audit log writer failed", {{"error", ex.what()}});
            }
        }
    });
    impl_->thread = std::thread([ctx = &impl_->ctx] { ctx->run(); });
}

AuditLog::~AuditLog() {
    close();
}

void AuditLog::close() {
    if (!impl_->thread.joinable()) {
        return;
    }
    {
        std::lock_guard lock(impl_->mutex);
        impl_->closing = true;
    }
    asio::post(impl_->ctx, [impl = impl_.get()] { impl->wake.notify(); });
    impl_->work.reset();
    impl_->thread.join();
}

std::size_t AuditLog::dropped() const noexcept {
    return impl_->dropped.load();
}

namespace {

store::AuditEvent to_event(AuditRecord r, TimePoint now) {
    store::AuditEvent e;
    e.id = new_uuid_v7();
    e.kind = std::string(r.kind);
    e.user_id = std::move(r.user_id);
    e.actor_id = std::move(r.actor_id);
    e.ip = std::move(r.ip);
    boost::json::object detail;
    for (auto& [key, value] : r.detail) {
        if (AuditLog::secret_key(key)) {
            log::error("audit detail refused: its key names a secret", {{"key", key}});
            continue;
        }
        detail.emplace(key, std::move(value));
    }
    e.detail = boost::json::serialize(detail);
    e.created_at = now;
    return e;
}

}  // namespace

void AuditLog::record(AuditRecord r) {
    impl_->enqueue({to_event(std::move(r), impl_->clock()), nullptr});
}

asio::awaitable<Result<void>> AuditLog::commit(AuditRecord r) {
    auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
    impl_->enqueue({to_event(std::move(r), impl_->clock()), waiter});
    co_await waiter->done.wait();
    if (!waiter->done.is_set()) {
        co_return make_error(ErrorType::api, "cancelled while writing the audit log");
    }
    if (waiter->error) {
        co_return *waiter->error;
    }
    co_return Result<void>{};
}

}  // namespace parley::auth
