// The blocking pool under the load the server puts on it: coroutines on several I/O threads hand
// work to the pool's threads and get results and exceptions back. Built in the ThreadSanitizer
// preset, where a missing happens-before between the two sides is a failure.
#include "async/blocking_pool.hpp"

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <gtest/gtest.h>

namespace parley::async {
namespace {

namespace asio = boost::asio;

// Runs `ioc` on `threads` threads until it runs out of work.
void run_on_threads(asio::io_context& ioc, int threads) {
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&ioc] { ioc.run(); });
    }
    for (auto& t : pool) {
        t.join();
    }
}

TEST(BlockingPoolTest, ResultsComeBackToCoroutinesOnSeveralIoThreads) {
    constexpr int kTasks = 200;
    BlockingPool pool(4);
    asio::io_context ioc;
    // Each coroutine writes its own slot, from its I/O thread, with what the pool's thread
    // computed: plain memory that the pool must hand over with a happens-before edge.
    std::vector<std::vector<int>> results(kTasks);
    std::atomic<int> resumed_on_own_executor{0};
    for (int i = 0; i < kTasks; ++i) {
        asio::co_spawn(
            ioc,
            [](BlockingPool& p, std::vector<int>& out, std::atomic<int>& own, int n
            ) -> asio::awaitable<void> {
                auto values = co_await offload(p, [n] { return std::vector<int>{n, n * n}; });
                const auto ex = co_await asio::this_coro::executor;
                if (ex.target<asio::io_context::executor_type>()->running_in_this_thread()) {
                    own.fetch_add(1);
                }
                out = std::move(values);
            }(pool, results[static_cast<std::size_t>(i)], resumed_on_own_executor, i),
            asio::detached
        );
    }
    run_on_threads(ioc, 3);
    EXPECT_EQ(resumed_on_own_executor.load(), kTasks);
    for (int i = 0; i < kTasks; ++i) {
        EXPECT_EQ(results[static_cast<std::size_t>(i)], (std::vector<int>{i, i * i}));
    }
}

TEST(BlockingPoolTest, AnExceptionOnThePoolIsRethrownInTheCaller) {
    BlockingPool pool(2);
    asio::io_context ioc;
    std::atomic<int> caught{0};
    for (int i = 0; i < 50; ++i) {
        asio::co_spawn(
            ioc,
            [](BlockingPool& p, std::atomic<int>& n) -> asio::awaitable<void> {
                try {
                    co_await run_blocking(p, [] { throw std::runtime_error("disk on fire"); });
                } catch (const std::runtime_error& e) {
                    if (std::string_view(e.what()) == "disk on fire") {
                        n.fetch_add(1);
                    }
                }
            }(pool, caught),
            asio::detached
        );
    }
    run_on_threads(ioc, 2);
    EXPECT_EQ(caught.load(), 50);
}

TEST(BlockingPoolTest, StopWaitsForQueuedWork) {
    BlockingPool pool(1);
    asio::io_context ioc;
    int queued = 0;  // on this thread
    int done = 0;    // written on the pool's thread, read here after stop(): join orders them
    for (int i = 0; i < 20; ++i) {
        asio::co_spawn(
            ioc,
            [](BlockingPool& p, int& q, int& d) -> asio::awaitable<void> {
                ++q;
                co_await run_blocking(p, [&d] {
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                    ++d;
                });
            }(pool, queued, done),
            asio::detached
        );
    }
    // Start every coroutine, so that all 20 jobs are queued on the pool (poll() runs the ready
    // handlers and returns; a timed run could end before a slow — e.g. TSan — build queued them
    // all), then stop the pool while most of the work is still queued.
    ioc.poll();
    ASSERT_EQ(queued, 20);
    pool.stop();
    EXPECT_EQ(done, 20);
}

}  // namespace
}  // namespace parley::async
