#include "redis/client.hpp"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log.hpp"
#include "redis/connection.hpp"

namespace parley::redis {

namespace asio = boost::asio;

struct Client::Listener::Slot {
    std::mutex mutex;  // held while the handler runs, so that reset() waits for it
    MessageHandler handler;
    std::atomic<bool> active{true};
};

struct Client::Impl {
    explicit Impl(ClientOptions o) : options(std::move(o)), work(asio::make_work_guard(ctx)) {}

    void notify_state() {
        { const std::lock_guard lock(state_mutex); }
        state_changed.notify_all();
    }

    // On the client's thread, for each pmessage of the subscriber connection.
    void dispatch(const std::string& pattern, std::string_view channel, std::string_view payload) {
        std::vector<std::shared_ptr<Listener::Slot>> targets;
        {
            const std::lock_guard lock(listeners_mutex);
            const auto [begin, end] = listeners.equal_range(pattern);
            for (auto it = begin; it != end;) {
                if (it->second->active.load()) {
                    targets.push_back(it->second);
                    ++it;
                } else {
                    it = listeners.erase(it);
                }
            }
        }
        for (const auto& slot : targets) {
            const std::lock_guard lock(slot->mutex);
            if (slot->handler) {
                slot->handler(channel, payload);
            }
        }
    }

    // Declared first, destroyed last: the connections' timers and descriptors belong to it.
    asio::io_context ctx;
    ClientOptions options;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::shared_ptr<Connection> commands;
    std::shared_ptr<Connection> subscriber;  // created by the first listen(), on the thread
    std::thread thread;
    // Set under an exclusive lock of `lifecycle`; commands are handed to the thread under a shared
    // one, so none is posted after close() let the thread finish.
    std::shared_mutex lifecycle;
    std::atomic<bool> closed{false};

    mutable std::mutex state_mutex;
    mutable std::condition_variable state_changed;

    std::mutex listeners_mutex;
    std::multimap<std::string, std::shared_ptr<Listener::Slot>> listeners;
    // subscriber->subscribed(), mirrored for other threads (the pointer is the thread's own).
    std::atomic<bool> subscriber_ready{false};
};

Client::Listener::~Listener() {
    reset();
}

Client::Listener& Client::Listener::operator=(Listener&& other) noexcept {
    if (this != &other) {
        reset();
        slot_ = std::move(other.slot_);
    }
    return *this;
}

void Client::Listener::reset() {
    if (slot_) {
        slot_->active = false;
        const std::lock_guard lock(slot_->mutex);
        slot_->handler = nullptr;
        slot_.reset();
    }
}

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
    Impl& impl = *impl_;
    impl.commands = std::make_shared<Connection>(impl.ctx, impl.options, "commands", [&impl] {
        impl.notify_state();
    });
    impl.commands->start();
    impl.thread = std::thread([&impl] {
        for (;;) {
            try {
                impl.ctx.run();
                return;
            } catch (const std::exception& e) {
                log::error("redis client thread: unexpected exception", {{"error", e.what()}});
            }
        }
    });
}

Client::~Client() {
    close();
}

void Client::close() {
    Impl& impl = *impl_;
    {
        const std::unique_lock lock(impl.lifecycle);
        if (impl.closed.exchange(true)) {
            return;
        }
        // After every command already handed over: those fail when the connections go.
        asio::post(impl.ctx, [&impl] {
            impl.commands->stop();
            if (impl.subscriber) {
                impl.subscriber->stop();
            }
        });
    }
    impl.work.reset();
    if (impl.thread.joinable()) {
        impl.thread.join();
    }
    impl.notify_state();
}

namespace {

Error closed_error() {
    return make_error(ErrorType::overloaded, "redis unavailable", "client closed");
}

// Runs the command on the client's thread and completes `handler` on its own executor; when the
// client is closed, completes it at once (through its executor) with an error.
template <class Handler>
void start_command(Client::Impl& impl, std::vector<std::string> args, Handler handler) {
    const std::shared_lock lock(impl.lifecycle);
    if (impl.closed.load()) {
        const auto ex = asio::get_associated_executor(handler);
        asio::post(ex, [handler = std::move(handler)]() mutable {
            std::move(handler)(std::exception_ptr(), Result<Reply>(closed_error()));
        });
        return;
    }
    asio::co_spawn(
        impl.ctx,
        [connection = impl.commands, args = std::move(args)]() mutable {
            return connection->command(std::move(args));
        },
        std::move(handler)
    );
}

}  // namespace

asio::awaitable<Result<Reply>> Client::command(std::vector<std::string> args) {
    co_return co_await asio::
        async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, Result<Reply>)>(
            [&impl = *impl_](auto handler, std::vector<std::string> a) {
                start_command(impl, std::move(a), std::move(handler));
            },
            asio::use_awaitable,
            std::move(args)
        );
}

void Client::send(std::vector<std::string> args, std::function<void(Result<Reply>)> done) {
    {
        const std::shared_lock lock(impl_->lifecycle);
        if (!impl_->closed.load()) {
            asio::co_spawn(
                impl_->ctx,
                [connection = impl_->commands, args = std::move(args)]() mutable {
                    return connection->command(std::move(args));
                },
                [done](std::exception_ptr e, Result<Reply> r) {
                    if (done) {
                        done(e ? Result<Reply>(closed_error()) : std::move(r));
                    }
                }
            );
            return;
        }
    }
    if (done) {
        done(closed_error());
    }
}

Client::Listener Client::listen(std::string pattern, MessageHandler handler) {
    auto slot = std::make_shared<Listener::Slot>();
    slot->handler = std::move(handler);
    {
        const std::lock_guard lock(impl_->listeners_mutex);
        impl_->listeners.emplace(pattern, slot);
    }
    Impl& impl = *impl_;
    asio::post(impl.ctx, [&impl, pattern = std::move(pattern)]() mutable {
        if (impl.closed.load()) {
            return;
        }
        if (!impl.subscriber) {
            impl.subscriber = std::make_shared<Connection>(
                impl.ctx,
                impl.options,
                "subscriber",
                [&impl] {
                    impl.subscriber_ready = impl.subscriber->subscribed();
                    impl.notify_state();
                },
                [&impl](const std::string& p, std::string_view channel, std::string_view payload) {
                    impl.dispatch(p, channel, payload);
                }
            );
            impl.subscriber->start();
        }
        impl.subscriber->psubscribe(std::move(pattern));
    });
    return Listener(std::move(slot));
}

bool Client::connected() const noexcept {
    return !impl_->closed.load() && impl_->commands->up();
}

bool Client::listening() const noexcept {
    return !impl_->closed.load() && impl_->subscriber_ready.load();
}

bool Client::wait_connected(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->state_mutex);
    return impl_->state_changed.wait_for(lock, timeout, [this] { return connected(); });
}

bool Client::wait_listening(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->state_mutex);
    return impl_->state_changed.wait_for(lock, timeout, [this] { return listening(); });
}

const ClientOptions& Client::options() const noexcept {
    return impl_->options;
}

}  // namespace parley::redis
