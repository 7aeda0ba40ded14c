// A thread pool for work that would block an I/O thread (SQLite calls, Argon2id hashing), and
// `offload`, which runs a function there and resumes the awaiting coroutine on its own executor.
// Only <boost/asio/awaitable.hpp> is included here, to keep Asio out of service headers.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>

#include <boost/asio/awaitable.hpp>

namespace parley::async {

class BlockingPool {
public:
    explicit BlockingPool(std::size_t threads);
    ~BlockingPool();
    BlockingPool(const BlockingPool&) = delete;
    BlockingPool& operator=(const BlockingPool&) = delete;

    // Waits for queued work to finish and joins the threads. Idempotent.
    void stop();

    // Queues `fn` to run on a pool thread, for work that completes its waiters itself (the
    // SQLite store's group commit); run_blocking()/offload() for a coroutine awaiting one call.
    void post(std::function<void()> fn);

    struct Impl;

    Impl& impl() noexcept { return *impl_; }

private:
    std::unique_ptr<Impl> impl_;
};

// Runs `fn` on the pool; the caller resumes on its own executor afterwards. An exception thrown by
// `fn` is rethrown in the caller. Not cancellable: `fn` runs to completion once started.
boost::asio::awaitable<void> run_blocking(BlockingPool& pool, std::function<void()> fn);

// Typed wrapper around run_blocking: returns what `fn` returns.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F>> offload(BlockingPool& pool, F fn) {
    using R = std::invoke_result_t<F>;
    if constexpr (std::is_void_v<R>) {
        co_await run_blocking(pool, std::move(fn));
    } else {
        std::optional<R> out;
        co_await run_blocking(pool, [&out, &fn] { out.emplace(fn()); });
        co_return std::move(*out);
    }
}

}  // namespace parley::async
