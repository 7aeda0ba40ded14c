#include "async/event.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "async/deadline.hpp"

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

struct Notifier::State {
    using Waiter = asio::any_completion_handler<void(boost::system::error_code, bool)>;

    explicit State(const asio::any_io_executor& ex)
        : executor(ex),
          deadline(ex, [this] {
              if (waiter) {
                  finish({}, false, true);  // the waiter's time came first
              }
          }) {}

    // The waiter with its result, move-only: Boost 1.81's any_completion_handler "copies" an
    // lvalue of itself by wrapping it, recursively, and its move assignment makes such a copy;
    // so it is moved by construction and swap only, and a copy here must not compile.
    struct Completion {
        Waiter handler;
        boost::system::error_code ec;
        bool woken;

        Completion(Waiter h, boost::system::error_code e, bool w)
            : handler(std::move(h)),
              ec(e),
              woken(w) {}

        Completion(Completion&&) noexcept = default;
        Completion(const Completion&) = delete;
        Completion& operator=(const Completion&) = delete;
        Completion& operator=(Completion&&) = delete;
        ~Completion() = default;

        void operator()() { std::move(handler)(ec, woken); }
    };

    asio::any_io_executor executor;  // the waiter's (the notifier serves one executor)
    Waiter waiter;                   // the consumer's pending wait, if any
    Deadline deadline;               // the timed wait's time: pushing it later arms no timer
    bool pending = false;            // notified since the last wait returned

    // Completes the waiter with `ec` / `woken`: inline when `now` and the caller runs on the
    // waiter's loop thread, else posted.
    void finish(boost::system::error_code ec, bool woken, bool now) {
        deadline.suspend();
        Waiter h;
        h.swap(waiter);  // (not `=`: Boost 1.81's move assignment copies, see Completion)
        auto slot = asio::get_associated_cancellation_slot(h);
        if (slot.is_connected()) {
            slot.clear();
        }
        Completion call{std::move(h), ec, woken};
        if (now) {
            // On the loop's own thread the waiter is called directly: asio::dispatch would find
            // the same through the type-erased executor and a heap-allocated function.
            if (on_loop_thread()) {
                call();
            } else {
                asio::dispatch(executor, std::move(call));
            }
        } else {
            asio::post(executor, std::move(call));
        }
    }

    template <class Handler>
    void take(Handler&& handler) {
        Waiter h(std::forward<Handler>(handler));
        waiter.swap(h);
    }

    // Whether the caller runs on the waiter's loop thread.
    bool on_loop_thread() const noexcept {
        const auto* loop = executor.target<asio::io_context::executor_type>();
        return loop != nullptr && loop->running_in_this_thread();
    }

    void notify(bool now) {
        pending = true;
        if (waiter) {
            pending = false;
            finish({}, true, now);
        }
    }
};

Notifier::Notifier(const asio::any_io_executor& executor)
    : state_(std::make_unique<State>(executor)) {}

Notifier::~Notifier() {
    if (state_->waiter) {
        state_->finish(asio::error::operation_aborted, false, false);  // as a destroyed timer would
    }
}

void Notifier::notify() {
    state_->notify(false);
}

void Notifier::notify_inline() {
    state_->notify(true);
}

bool Notifier::waited_on_here() const noexcept {
    return state_->waiter && state_->on_loop_thread();
}

asio::awaitable<void> Notifier::wait() {
    co_await wait_until(asio::steady_timer::time_point::max());
}

asio::awaitable<bool> Notifier::wait_until(asio::steady_timer::time_point t) {
    // Not a coroutine: the operation's own awaitable (one frame less per wait). It starts when
    // awaited; the notifier outlives its waits.
    return asio::
        async_initiate<const asio::use_awaitable_t<>, void(boost::system::error_code, bool)>(
            [this, t](auto handler) {
                State& s = *state_;
                s.take(std::move(handler));
                if (s.pending) {
                    s.pending = false;
                    s.finish({}, true, false);
                    return;
                }
                auto slot = asio::get_associated_cancellation_slot(s.waiter);
                if (slot.is_connected()) {
                    slot.assign([raw = &s](asio::cancellation_type type) {
                        if (type != asio::cancellation_type::none && raw->waiter) {
                            raw->finish(asio::error::operation_aborted, false, false);
                        }
                    });
                }
                if (t != asio::steady_timer::time_point::max()) {
                    s.deadline.expires_at(t);  // (a time already past ends the wait at once)
                }
            },
            asio::use_awaitable
        );
}

}  // namespace parley::async
