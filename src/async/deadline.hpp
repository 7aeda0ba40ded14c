// A deadline on one timer that is cheap to push later, for a deadline that moves with every
// token or read (the router's first-token and between-tokens timeouts, the HTTP client's read
// timeout): moving it later only stores it, and when the timer fires before the deadline it
// waits again until it; only a deadline moved earlier re-arms the timer. When the deadline
// passes, `expire` is called once, on the executor, from the timer's handler (a plain function,
// not a coroutine racing the work it guards). Not thread-safe: use it on its executor.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>

namespace parley::async {

class Deadline {
public:
    using Clock = std::chrono::steady_clock;

    Deadline(const boost::asio::any_io_executor& executor, std::function<void()> expire);

    // Stops: `expire` is not called after (a wait still pending ends on its own).
    ~Deadline();

    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;

    // Sets (or moves) the deadline; it counts from now on, even after suspend().
    void expires_at(Clock::time_point t);

    // The deadline stops counting until the next expires_at(), without touching the timer: a
    // wait that fires meanwhile does nothing and is not renewed.
    void suspend() noexcept;

    // No deadline any more: the pending wait is cancelled.
    void stop();

    // Whether the deadline passed (and `expire` was called).
    bool expired() const noexcept;

    Clock::time_point expiry() const noexcept;

private:
    struct State;
    std::shared_ptr<State> state_;  // shared with the pending wait's handler
};

}  // namespace parley::async
