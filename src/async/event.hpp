// A one-shot event for coroutines on one executor: `wait()` completes once `set()` was called
// (at once if it already was), or when the waiter is cancelled (then without an exception: check
// is_set() if it matters). Any number of waiters; cancelling one leaves the event alone.
// Not thread-safe: touch it from the executor it was made for.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace parley::async {

class Event {
public:
    explicit Event(const boost::asio::any_io_executor& executor);

    void set();

    bool is_set() const noexcept { return set_; }

    boost::asio::awaitable<void> wait();

private:
    boost::asio::steady_timer timer_;
    bool set_ = false;
};

// A wake-up signal that can fire many times: `wait()` completes at the next `notify()` (or at
// once when one happened since the last wait returned). For a single consumer.
class Notifier {
public:
    explicit Notifier(const boost::asio::any_io_executor& executor);

    void notify();

    boost::asio::awaitable<void> wait();

    // wait(), or until `t` if that comes first: true when notified, false at `t`. The one
    // timer serves both, so a reader with a deadline of its own (a ping after silence) needs
    // no second timer nor a coroutine racing it. Cancellable (operation_aborted).
    boost::asio::awaitable<bool> wait_until(boost::asio::steady_timer::time_point t);

private:
    boost::asio::steady_timer timer_;
    bool pending_ = false;
};

}  // namespace parley::async
