#include "async/deadline.hpp"

#include <cstdint>

#include <boost/asio/steady_timer.hpp>

namespace parley::async {

namespace asio = boost::asio;

struct Deadline::State {
    State(const asio::any_io_executor& executor, std::function<void()> on_expiry)
        : timer(executor),
          expire(std::move(on_expiry)) {}

    asio::steady_timer timer;
    std::function<void()> expire;
    Clock::time_point deadline;
    std::uint64_t generation = 0;  // a handler of an older wait does nothing
    bool counting = false;         // expires_at() was called since the last suspend() or stop()
    bool waiting = false;          // a wait is pending on the timer
    bool expired = false;

    static void arm(const std::shared_ptr<State>& state) {
        State& s = *state;
        const std::uint64_t generation = ++s.generation;
        s.waiting = true;
        s.timer.expires_at(s.deadline);  // a wait pending at an older expiry is cancelled
        s.timer.async_wait([state, generation](const boost::system::error_code& ec) {
            if (ec || state->generation != generation) {
                return;  // cancelled, or replaced by a later arm() or stop()
            }
            if (!state->counting) {
                state->waiting = false;  // suspended: the next expires_at() arms it again
                return;
            }
            if (Clock::now() < state->deadline) {
                arm(state);  // the deadline moved later meanwhile
                return;
            }
            state->waiting = false;
            state->counting = false;
            state->expired = true;
            state->expire();
        });
    }
};

Deadline::Deadline(const asio::any_io_executor& executor, std::function<void()> expire)
    : state_(std::make_shared<State>(executor, std::move(expire))) {}

Deadline::~Deadline() {
    stop();
}

void Deadline::expires_at(Clock::time_point t) {
    State& s = *state_;
    s.deadline = t;
    s.counting = true;
    if (!s.waiting || t < s.timer.expiry()) {
        State::arm(state_);
    }
}

void Deadline::suspend() noexcept {
    state_->counting = false;
}

void Deadline::stop() {
    State& s = *state_;
    s.counting = false;
    if (s.waiting) {
        s.waiting = false;
        ++s.generation;  // the pending wait's handler, whatever it is told, does nothing
        s.timer.cancel();
    }
}

bool Deadline::expired() const noexcept {
    return state_->expired;
}

Deadline::Clock::time_point Deadline::expiry() const noexcept {
    return state_->deadline;
}

}  // namespace parley::async
