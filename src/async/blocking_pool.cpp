#include "async/blocking_pool.hpp"

#include <boost/asio/co_spawn.hpp>
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

namespace {

asio::awaitable<void> invoke(std::function<void()> fn) {
    fn();
    co_return;
}

}  // namespace

asio::awaitable<void> run_blocking(BlockingPool& pool, std::function<void()> fn) {
    // co_spawn on the pool's executor; completion (and any exception) is delivered back on the
    // awaiting coroutine's executor.
    co_await asio::co_spawn(
        pool.impl().pool.get_executor(), invoke(std::move(fn)), asio::use_awaitable
    );
}

}  // namespace parley::async
