#include "async/event.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace parley::async {

namespace asio = boost::asio;

Event::Event(const asio::any_io_executor& executor)
    : timer_(executor, asio::steady_timer::time_point::max()) {}

void Event::set() {
    set_ = true;
    timer_.cancel();
}

asio::awaitable<void> Event::wait() {
    while (!set_) {
        // Ends with operation_aborted when set() cancels the timer. A cancelled waiter returns
        // without throwing: as the loser of a `||` race (its usual place) it costs no exception.
        co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (!set_) {
            const auto cs = co_await asio::this_coro::cancellation_state;
            if (cs.cancelled() != asio::cancellation_type::none) {
                co_return;
            }
        }
    }
}

Notifier::Notifier(const asio::any_io_executor& executor)
    : timer_(executor, asio::steady_timer::time_point::max()) {}

void Notifier::notify() {
    pending_ = true;
    timer_.cancel();
}

asio::awaitable<void> Notifier::wait() {
    co_await wait_until(asio::steady_timer::time_point::max());
}

asio::awaitable<bool> Notifier::wait_until(asio::steady_timer::time_point t) {
    timer_.expires_at(t);  // nothing waits on it now: a single consumer
    while (!pending_) {
        auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (!pending_) {
            const auto cs = co_await asio::this_coro::cancellation_state;
            if (cs.cancelled() != asio::cancellation_type::none) {
                throw boost::system::system_error(asio::error::operation_aborted);
            }
            if (!ec) {
                co_return false;  // `t` came first
            }
        }
    }
    pending_ = false;
    co_return true;
}

}  // namespace parley::async
