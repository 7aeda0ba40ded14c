#include "store/postgres/pg_pool.hpp"

#include <algorithm>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

namespace parley::store::postgres {

namespace asio = boost::asio;

// One queued acquirer. The releasing thread fills `conn` (or grants a slot) under the pool's
// mutex, then expires `timer` on the waiter's own executor to wake it.
struct PgPool::Waiter {
    explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}

    asio::steady_timer timer;
    bool granted = false;
    std::unique_ptr<PgConnection> conn;  // null with granted: open a connection yourself
};

PgPool::PgPool(std::string conninfo, PoolOptions options)
    : conninfo_(std::move(conninfo)),
      options_(options) {}

PgPool::~PgPool() = default;

std::size_t PgPool::open_connections() {
    const std::lock_guard lock(mutex_);
    return open_;
}

asio::awaitable<PgPool::Lease> PgPool::acquire() {
    // Whatever this coroutine holds is owned by an object whose destructor gives it back (a Lease,
    // a SlotGuard): a co_await may throw at any point once the caller is cancelled, and asio may
    // then not even start a nested coroutine.
    const auto ex = co_await asio::this_coro::executor;
    for (;;) {
        std::unique_ptr<PgConnection> conn;
        std::shared_ptr<Waiter> waiter;
        bool may_open = false;
        {
            const std::lock_guard lock(mutex_);
            if (!idle_.empty()) {
                conn = std::move(idle_.back());
                idle_.pop_back();
            } else if (open_ < options_.size) {
                ++open_;
                may_open = true;
            } else {
                waiter = std::make_shared<Waiter>(ex);
                waiter->timer.expires_after(options_.acquire_timeout);
                waiters_.push_back(waiter);
            }
        }
        if (conn) {
            Lease lease(*this, std::move(conn));
            if (lease->reusable()) {
                co_return lease;
            }
            continue;  // closed by the server while idle (a restart): the lease discards it
        }
        if (may_open) {
            SlotGuard slot(*this);
            co_return co_await open_new(std::move(slot));
        }

        QueuePlace place(*this, waiter);
        auto [ec] = co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        const bool granted = place.leave(conn);
        if (!granted) {
            if (ec == asio::error::operation_aborted) {
                throw boost::system::system_error(ec);  // the caller was cancelled
            }
            throw PgError(
                PgError::Kind::busy,
                "no database connection became free within " +
                    std::to_string(options_.acquire_timeout.count()) + " ms"
            );
        }
        if (!conn) {
            SlotGuard slot(*this);  // a slot was freed for us
            co_return co_await open_new(std::move(slot));
        }
        Lease lease(*this, std::move(conn));
        if (lease->reusable()) {
            co_return lease;
        }
    }
}

bool PgPool::QueuePlace::leave(std::unique_ptr<PgConnection>& conn) {
    const std::lock_guard lock(pool_->mutex_);
    auto waiter = std::move(waiter_);
    if (waiter->granted) {
        conn = std::move(waiter->conn);
        return true;
    }
    pool_->waiters_.erase(std::find(pool_->waiters_.begin(), pool_->waiters_.end(), waiter));
    return false;
}

PgPool::QueuePlace::~QueuePlace() {
    if (!waiter_) {
        return;
    }
    // The waiting coroutine is being destroyed without having resumed (its io_context went away):
    // leave the queue, and give back whatever was handed over meanwhile.
    std::unique_ptr<PgConnection> conn;
    if (leave(conn)) {
        if (conn) {
            pool_->release(std::move(conn));
        } else {
            pool_->release_slot();
        }
    }
}

asio::awaitable<PgPool::Lease> PgPool::open_new(SlotGuard slot) {
    auto conn = co_await PgConnection::connect(conninfo_, options_.connect_timeout);
    slot.dismiss();  // the lease holds the slot from now on
    co_return Lease(*this, std::move(conn));
}

bool PgPool::hand_over(std::unique_ptr<PgConnection>& conn) {
    if (waiters_.empty()) {
        return false;
    }
    auto waiter = std::move(waiters_.front());
    waiters_.pop_front();
    waiter->granted = true;
    waiter->conn = std::move(conn);
    // The timer belongs to the waiter's executor, which may be another thread's: wake it there.
    // Moving the expiry (rather than cancelling) also wakes a waiter that has not begun to wait.
    auto ex = waiter->timer.get_executor();
    asio::post(ex, [w = std::move(waiter)] {
        w->timer.expires_at(asio::steady_timer::time_point::min());
    });
    return true;
}

void PgPool::release_slot() {
    const std::lock_guard lock(mutex_);
    std::unique_ptr<PgConnection> none;
    if (!hand_over(none)) {
        --open_;
    }
}

void PgPool::release(std::unique_ptr<PgConnection> conn) {
    if (conn->broken() || !conn->reusable()) {
        // Lost, cancelled mid-command or left inside a transaction: never lend it again. Closing
        // it makes the server roll back whatever it had begun.
        conn.reset();
        release_slot();
        return;
    }
    const std::lock_guard lock(mutex_);
    if (!hand_over(conn)) {
        idle_.push_back(std::move(conn));
    }
}

}  // namespace parley::store::postgres
