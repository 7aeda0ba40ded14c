#include "async/blocking_pool.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace parley::async {

namespace asio = boost::asio;

struct BlockingPool::Impl {
    explicit Impl(std::size_t threads) : pool(threads) {}

    asio::thread_pool pool;
    bool stopped = false;
};

BlockingPool::BlockingPool(std::size_t threads)
    : impl_(std::make_unique<Impl>(threads == 0 ? 1 : threads)) {}

BlockingPool::~BlockingPool() {
    stop();
}

void BlockingPool::stop() {
    if (!impl_->stopped) {
        impl_->stopped = true;
        impl_->pool.join();
    }
}

void BlockingPool::post(std::function<void()> fn) {
    asio::post(impl_->pool, std::move(fn));
}

asio::awaitable<void> run_blocking(BlockingPool& pool, std::function<void()> fn) {
    // One post to the pool and one back to the awaiting coroutine's executor (which the handler
    // carries). A co_spawn on the pool did the same with a coroutine frame, its entry point and
    // more handlers queued on the pool, each of which could wake another pool thread (issue 14:
    // five of these a streamed answer).
    std::exception_ptr error;
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [&pool, &fn, &error](auto handler) {
            // Keeps the caller's io_context running while `fn` does.
            auto home = asio::prefer(
                asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked
            );
            asio::post(
                pool.impl().pool,
                [&fn, &error, home = std::move(home), handler = std::move(handler)]() mutable {
                    try {
                        fn();
                    } catch (...) {
                        error = std::current_exception();
                    }
                    asio::post(home, std::move(handler));
                }
            );
        },
        asio::use_awaitable
    );
    if (error) {
        std::rethrow_exception(error);
    }
}

}  // namespace parley::async
