// What only the Redis limiter has: a limit shared by instances, the server's clock, the script's
// reload after SCRIPT FLUSH, failing open while Redis is down and enforcing again once it is back.
// Its sliding-window semantics are the shared cases of limiter_semantics_test.cpp.
#include "ratelimit/redis_limiter.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <numeric>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "common/ids.hpp"
#include "support/redis_server.hpp"
#include "support/run_awaitable.hpp"

namespace parley::ratelimit {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using parley::testing::run_awaitable;

redis::ClientOptions client_options(const std::string& url) {
    redis::ClientOptions options;
    options.endpoint = redis::parse_url(url).value();
    options.reconnect_min = 20ms;
    options.reconnect_max = 200ms;
    return options;
}

class RedisLimiterTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto url = parley::testing::test_redis_url();
        if (!url) {
            GTEST_SKIP() << "PARLEY_TEST_REDIS_URL is not set";
        }
        url_ = *url;
        options_.key_prefix = "test:" + new_uuid_v7() + ":";
    }

    std::string url_;
    RedisLimiterOptions options_;
};

// Two instances (two clients, two limiters), each with an io_context on its own thread, hammer one
// key at once: exactly `limit` requests get through in total (unshared, each instance alone would
// let `limit` of its own through), each with a distinct `remaining`.
TEST_F(RedisLimiterTest, TwoInstancesShareOneLimit) {
    constexpr int kLimit = 50;
    constexpr int kPerInstance = 100;
    const Policy policy{kLimit, 60s};
    redis::Client client_a(client_options(url_));
    redis::Client client_b(client_options(url_));
    ASSERT_TRUE(client_a.wait_connected(5s));
    ASSERT_TRUE(client_b.wait_connected(5s));
    RedisLimiter a(client_a, options_);
    RedisLimiter b(client_b, options_);

    std::vector<std::vector<int>> remaining(2);
    std::latch start(2);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
        threads.emplace_back([&, i] {
            Limiter& limiter = i == 0 ? static_cast<Limiter&>(a) : b;
            auto& mine = remaining[static_cast<std::size_t>(i)];
            asio::io_context ctx;
            // Four request coroutines per instance, each hitting in turn, as connections would.
            for (int c = 0; c < 4; ++c) {
                asio::co_spawn(
                    ctx,
                    [](Limiter& l, Policy p, std::vector<int>& out) -> asio::awaitable<void> {
                        for (int n = 0; n < kPerInstance / 4; ++n) {
                            const auto d = co_await l.hit("shared", p);
                            if (d.allowed) {
                                out.push_back(d.remaining);
                            }
                        }
                    }(limiter, policy, mine),
                    asio::detached
                );
            }
            start.arrive_and_wait();
            ctx.run();
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(a.failures() + b.failures(), 0U);
    std::vector<int> all = remaining[0];
    all.insert(all.end(), remaining[1].begin(), remaining[1].end());
    std::sort(all.begin(), all.end());
    std::vector<int> expected(kLimit);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(all, expected);

    // Either instance now refuses, with the same answer.
    const auto from_a = run_awaitable(a.hit("shared", policy));
    const auto from_b = run_awaitable(b.hit("shared", policy));
    EXPECT_FALSE(from_a.allowed);
    EXPECT_FALSE(from_b.allowed);
    EXPECT_GE(from_a.retry_after_s, 59);
    EXPECT_LE(from_a.retry_after_s, 60);
}

TEST_F(RedisLimiterTest, UsesTheServersClockAndKeysExpire) {
    redis::Client client(client_options(url_));
    ASSERT_TRUE(client.wait_connected(5s));
    RedisLimiter limiter(client, options_);
    const auto d = run_awaitable(limiter.hit("k", Policy{3, 2s}));
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 2);
    EXPECT_EQ(d.reset_s, 2);
    // The set expires with its newest entry (plus a second of slack): nothing piles up in Redis.
    const auto ttl = run_awaitable(client.command({"PTTL", options_.key_prefix + "k"}));
    ASSERT_TRUE(ttl);
    EXPECT_GT(ttl->integer, 2'000);
    EXPECT_LE(ttl->integer, 3'000);
    // The member is unique per request: two at the same microsecond both count.
    run_awaitable(limiter.hit("k", Policy{3, 2s}));
    const auto card = run_awaitable(client.command({"ZCARD", options_.key_prefix + "k"}));
    ASSERT_TRUE(card);
    EXPECT_EQ(card->integer, 2);
}

TEST_F(RedisLimiterTest, ReloadsTheScriptAfterAFlush) {
    redis::Client client(client_options(url_));
    ASSERT_TRUE(client.wait_connected(5s));
    RedisLimiter limiter(client, options_);
    const Policy policy{2, 60s};
    EXPECT_TRUE(run_awaitable(limiter.hit("k", policy)).allowed);
    ASSERT_TRUE(run_awaitable(client.command({"SCRIPT", "FLUSH"})));
    const auto d = run_awaitable(limiter.hit("k", policy));  // NOSCRIPT → EVAL
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_FALSE(run_awaitable(limiter.hit("k", policy)).allowed);
    EXPECT_EQ(limiter.failures(), 0U);
}

TEST(RedisLimiterOutageTest, FailsOpenWhileRedisIsDownAndEnforcesAgainWhenItReturns) {
    parley::testing::TempRedis server;
    redis::Client client(client_options(server.url()));
    ASSERT_TRUE(client.wait_connected(5s));
    std::atomic<int> counted{0};
    RedisLimiterOptions options;
    options.on_failure = [&counted] {
        ++counted;
    };
    RedisLimiter limiter(client, options);
    const Policy policy{2, 60s};
    const auto hit = [&] {
        return run_awaitable(limiter.hit("k", policy));
    };

    EXPECT_TRUE(hit().allowed);
    EXPECT_TRUE(hit().allowed);
    EXPECT_FALSE(hit().allowed);

    server.stop();
    while (client.connected()) {
        std::this_thread::sleep_for(10ms);
    }
    for (int i = 0; i < 3; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const auto d = hit();
        EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);  // no waiting on Redis
        EXPECT_TRUE(d.allowed);
        EXPECT_EQ(d.limit, 2);  // the headers still say what the limit is
        EXPECT_EQ(d.remaining, 1);
        EXPECT_EQ(d.reset_s, 60);
        EXPECT_EQ(d.retry_after_s, 0);
    }
    EXPECT_EQ(limiter.failures(), 3U);
    EXPECT_EQ(counted.load(), 3);

    // A zero limit needs no Redis: refused, and not a failure.
    EXPECT_FALSE(run_awaitable(limiter.hit("k", Policy{0, 60s})).allowed);
    EXPECT_EQ(limiter.failures(), 3U);

    server.start();  // empty: the throw-away server keeps nothing
    ASSERT_TRUE(client.wait_connected(10s));
    auto d = hit();
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 1);
    EXPECT_TRUE(hit().allowed);
    d = hit();
    EXPECT_FALSE(d.allowed);  // enforced again
    EXPECT_EQ(d.retry_after_s, 60);
    EXPECT_EQ(limiter.failures(), 3U);
}

}  // namespace
}  // namespace parley::ratelimit
