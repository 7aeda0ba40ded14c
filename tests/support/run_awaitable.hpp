// Runs a coroutine to completion on a private io_context, for unit tests of async code.
#pragma once

#include <exception>
#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace parley::testing {

template <class T>
T run_awaitable(boost::asio::awaitable<T> work) {
    boost::asio::io_context ctx;
    std::optional<T> out;
    std::exception_ptr failure;
    boost::asio::co_spawn(ctx, std::move(work), [&](std::exception_ptr e, T value) {
        failure = e;
        if (!e) {
            out.emplace(std::move(value));
        }
    });
    ctx.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
    return std::move(*out);
}

}  // namespace parley::testing
