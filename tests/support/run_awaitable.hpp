// Runs a coroutine to completion on a private io_context, for unit tests of async code.
#pragma once

#include <exception>
#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace parley::testing {

// Runs `work` on `ctx` until it completes (and ctx has nothing else to do). For subscribers fed by
// other threads: their io_context must outlive the publishers, so the test owns it.
template <class T>
T run_awaitable(boost::asio::io_context& ctx, boost::asio::awaitable<T> work) {
    std::optional<T> out;
    std::exception_ptr failure;
    boost::asio::co_spawn(ctx, std::move(work), [&](std::exception_ptr e, T value) {
        failure = e;
        if (!e) {
            out.emplace(std::move(value));
        }
    });
    ctx.restart();
    ctx.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
    return std::move(*out);
}

// On an io_context of the calling thread's own, kept until the thread exits rather than destroyed
// on return: a client with a thread of its own (Redis) completes by posting to it and then
// signalling it, which may still be under way when run() has returned here (ThreadSanitizer saw
// the condition variable destroyed during that signal).
template <class T>
T run_awaitable(boost::asio::awaitable<T> work) {
    static thread_local boost::asio::io_context ctx;
    return run_awaitable(ctx, std::move(work));
}

}  // namespace parley::testing
