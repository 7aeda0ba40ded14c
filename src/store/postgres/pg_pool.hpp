// A bounded pool of PostgreSQL connections shared by every I/O thread. Connections are opened on
// demand up to the bound; when all are busy, acquirers queue (first come, first served) until one
// is released or the wait times out. A broken connection is discarded on release, and one that the
// server closed while it sat idle is discarded on acquire, so the next acquire reconnects: the pool
// recovers by itself after the server restarts. Internal to store/.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "store/postgres/pg_connection.hpp"

namespace parley::store::postgres {

struct PoolOptions {
    std::size_t size = 10;                              // at most this many connections
    std::chrono::milliseconds connect_timeout{5'000};   // per connection attempt
    std::chrono::milliseconds acquire_timeout{10'000};  // waiting for a busy pool
};

class PgPool {
public:
    PgPool(std::string conninfo, PoolOptions options);
    ~PgPool();
    PgPool(const PgPool&) = delete;
    PgPool& operator=(const PgPool&) = delete;

    // A connection lent out; given back (or discarded, when it is broken or mid-transaction) when
    // destroyed.
    class Lease {
    public:
        Lease(PgPool& pool, std::unique_ptr<PgConnection> conn) noexcept
            : pool_(&pool),
              conn_(std::move(conn)) {}

        Lease(Lease&& other) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

        ~Lease() {
            if (conn_) {
                pool_->release(std::move(conn_));
            }
        }

        PgConnection& operator*() noexcept { return *conn_; }

        PgConnection* operator->() noexcept { return conn_.get(); }

    private:
        PgPool* pool_;
        std::unique_ptr<PgConnection> conn_;
    };

    // A connection: an idle one, a new one while below the bound, else the next one released.
    // Runs on (and resumes on) the caller's executor. Throws PgError: unavailable when connecting
    // fails, busy when none became free within acquire_timeout. Cancellation while queued throws
    // operation_aborted and leaves the queue.
    boost::asio::awaitable<Lease> acquire();

    // Connections open or being opened (for tests and metrics).
    std::size_t open_connections();

private:
    struct Waiter;

    void release(std::unique_ptr<PgConnection> conn);
    // Hands `conn` (or, when null, the right to open a connection) to the first waiter. Returns
    // false when nobody waits. Called with mutex_ held.
    bool hand_over(std::unique_ptr<PgConnection>& conn);
    // Gives back the right to open a connection (after a failed or discarded one).
    void release_slot();

    // One of the bounded slots, for a connection being opened: given back when destroyed unless
    // dismissed (once a lease owns the connection).
    class SlotGuard {
    public:
        explicit SlotGuard(PgPool& pool) noexcept : pool_(&pool) {}

        SlotGuard(SlotGuard&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)) {}

        SlotGuard& operator=(SlotGuard&&) = delete;
        SlotGuard(const SlotGuard&) = delete;
        SlotGuard& operator=(const SlotGuard&) = delete;

        ~SlotGuard() {
            if (pool_ != nullptr) {
                pool_->release_slot();
            }
        }

        void dismiss() noexcept { pool_ = nullptr; }

    private:
        PgPool* pool_;
    };

    boost::asio::awaitable<Lease> open_new(SlotGuard slot);

    // A waiter's place in the queue, held by the waiting coroutine's frame.
    class QueuePlace {
    public:
        QueuePlace(PgPool& pool, std::shared_ptr<Waiter> waiter) noexcept
            : pool_(&pool),
              waiter_(std::move(waiter)) {}

        QueuePlace(const QueuePlace&) = delete;
        QueuePlace& operator=(const QueuePlace&) = delete;
        ~QueuePlace();

        // Leaves the queue: true with what was handed over (a connection, or null for the right
        // to open one), false when nothing was (the wait timed out or was cancelled).
        bool leave(std::unique_ptr<PgConnection>& conn);

    private:
        PgPool* pool_;
        std::shared_ptr<Waiter> waiter_;
    };

    const std::string conninfo_;
    const PoolOptions options_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<PgConnection>> idle_;
    std::size_t open_ = 0;  // idle + lent out + being opened; never above options_.size
    std::deque<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace parley::store::postgres
