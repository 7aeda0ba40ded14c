// A one-shot event for coroutines on one executor: `wait()` completes once `set()` was called
// (at once if it already was), or when the waiter is cancelled (then without an exception: check
// is_set() if it matters). Any number of waiters; cancelling one leaves the event alone.
// Not thread-safe: touch it from the executor it was made for.
#pragma once

#include <memory>

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
//
// A notify costs no system call: the waiter's completion is kept, not a timer cancelled for it.
// `notify()` posts the waiter (it runs after the notifier's caller returns to the loop);
// `notify_inline()` resumes it inside the caller when the caller runs on the waiter's executor
// (else posts): for a producer whose state is whole when it notifies, such as a turn's event
// queue, this spares a turn of the event loop per event. The timed wait's timer is re-armed
// lazily: a later time only moves the deadline, the timer fires early at most once and waits
// again (an async::Deadline: a wait per delta with a ping time 15 s on arms no timer).
class Notifier {
public:
    explicit Notifier(const boost::asio::any_io_executor& executor);
    ~Notifier();

    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    void notify();

    void notify_inline();

    // Whether a wait is pending and the caller runs on the waiter's loop thread: then what the
    // waiter would be woken for can be handed to its owner by a plain call instead.
    bool waited_on_here() const noexcept;

    boost::asio::awaitable<void> wait();

    // wait(), or until `t` if that comes first: true when notified, false at `t`. Cancellable
    // (operation_aborted).
    boost::asio::awaitable<bool> wait_until(boost::asio::steady_timer::time_point t);

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace parley::async
