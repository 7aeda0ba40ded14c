#include "ratelimit/memory_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <latch>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/run_awaitable.hpp"

namespace parley::ratelimit {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// A clock that moves only when the test says so. Time starts at a whole hour, so "t = 60 s" is
// also a minute boundary of the clock. Threads may read it concurrently while nobody sets it.
class FakeClock {
public:
    MemoryLimiter::Clock clock() {
        return [this] {
            return now_;
        };
    }

    // Sets the time to `t` after the start.
    void at(nanoseconds t) { now_ = kStart + t; }

private:
    static constexpr auto kStart = std::chrono::steady_clock::time_point{} + hours(1000);
    std::chrono::steady_clock::time_point now_ = kStart;
};

// 3 per minute, the policy of the worked example in the brief.
constexpr Policy kThreePerMinute{3, seconds(60)};

TEST(MemoryLimiterTest, AllowsExactlyLimitCountingRemainingDown) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    const Policy policy{5, seconds(60)};
    for (int expected_remaining = 4; expected_remaining >= 0; --expected_remaining) {
        const auto d = limiter.check("k", policy);
        EXPECT_TRUE(d.allowed);
        EXPECT_EQ(d.limit, 5);
        EXPECT_EQ(d.remaining, expected_remaining);
        EXPECT_EQ(d.reset_s, 60);
        EXPECT_EQ(d.retry_after_s, 0);
    }
    const auto refused = limiter.check("k", policy);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.limit, 5);
    EXPECT_EQ(refused.remaining, 0);
    EXPECT_EQ(refused.reset_s, 60);
    EXPECT_EQ(refused.retry_after_s, 60);
}

// Hits at t = 0, 10, 20 s under 3 per 60 s. The window is half-open: a request made at t counts
// while now < t + 60 s, so at exactly t = 60 s the first request has left and one slot is free.
TEST(MemoryLimiterTest, WorkedExampleAtTheWindowEdge) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());

    time.at(seconds(0));
    auto d = limiter.check("k", kThreePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 2);
    EXPECT_EQ(d.reset_s, 60);

    time.at(seconds(10));
    d = limiter.check("k", kThreePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 1);
    EXPECT_EQ(d.reset_s, 50);  // the t = 0 request leaves at 60 s

    time.at(seconds(20));
    d = limiter.check("k", kThreePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_EQ(d.reset_s, 40);
    EXPECT_EQ(d.retry_after_s, 0);

    time.at(seconds(30));
    d = limiter.check("k", kThreePerMinute);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_EQ(d.retry_after_s, 30);
    EXPECT_EQ(d.reset_s, 30);

    time.at(milliseconds(59'999));
    d = limiter.check("k", kThreePerMinute);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 1);  // 1 ms, rounded up
    EXPECT_EQ(d.reset_s, 1);

    time.at(seconds(60) - nanoseconds(1));
    EXPECT_FALSE(limiter.check("k", kThreePerMinute).allowed);

    time.at(seconds(60));
    d = limiter.check("k", kThreePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);  // 10 s, 20 s and 60 s are counted
    EXPECT_EQ(d.reset_s, 10);   // the t = 10 s request leaves at 70 s
    EXPECT_EQ(d.retry_after_s, 0);

    // Exactly one slot was free: the next request at the same instant is refused.
    d = limiter.check("k", kThreePerMinute);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 10);
}

TEST(MemoryLimiterTest, BoundaryIsExclusiveBothSides) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    const Policy policy{1, seconds(1)};
    EXPECT_TRUE(limiter.check("k", policy).allowed);  // t = 0

    time.at(seconds(1) - nanoseconds(1));
    const auto before = limiter.check("k", policy);
    EXPECT_FALSE(before.allowed);
    EXPECT_EQ(before.retry_after_s, 1);  // 1 ns, rounded up to a whole second

    time.at(seconds(1));
    const auto at = limiter.check("k", policy);
    EXPECT_TRUE(at.allowed);
    EXPECT_EQ(at.reset_s, 1);
}

TEST(MemoryLimiterTest, RefusedRequestsAreNotCounted) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    const Policy policy{2, seconds(10)};
    time.at(seconds(0));
    EXPECT_TRUE(limiter.check("k", policy).allowed);
    time.at(seconds(1));
    EXPECT_TRUE(limiter.check("k", policy).allowed);
    // Hammer the key while it is full. Were refusals counted, it would stay full until t = 19.999.
    for (int ms = 2'000; ms < 10'000; ms += 250) {
        time.at(milliseconds(ms));
        EXPECT_FALSE(limiter.check("k", policy).allowed) << ms;
    }
    time.at(seconds(10));  // the t = 0 request leaves
    auto d = limiter.check("k", policy);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_EQ(d.reset_s, 1);  // the t = 1 request leaves at 11 s

    time.at(milliseconds(10'500));
    d = limiter.check("k", policy);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 1);

    time.at(seconds(11));  // the t = 1 request leaves
    d = limiter.check("k", policy);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.reset_s, 9);  // the t = 10 request leaves at 20 s
}

// A fixed per-minute window would reset at t = 60 s; a sliding one still counts the requests made
// in the last seconds of the previous minute.
TEST(MemoryLimiterTest, WindowSlidesAcrossMinuteBoundaries) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    for (const int s : {50, 55, 59}) {
        time.at(seconds(s));
        EXPECT_TRUE(limiter.check("k", kThreePerMinute).allowed) << s;
    }
    time.at(seconds(61));
    auto d = limiter.check("k", kThreePerMinute);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 49);  // the t = 50 request leaves at 110 s

    time.at(seconds(109));
    EXPECT_FALSE(limiter.check("k", kThreePerMinute).allowed);

    time.at(seconds(110));
    d = limiter.check("k", kThreePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_EQ(d.reset_s, 5);  // the t = 55 request leaves at 115 s
}

TEST(MemoryLimiterTest, KeysAreIndependent) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(limiter.check("alice", kThreePerMinute).allowed);
    }
    EXPECT_FALSE(limiter.check("alice", kThreePerMinute).allowed);

    const auto bob = limiter.check("bob", kThreePerMinute);
    EXPECT_TRUE(bob.allowed);
    EXPECT_EQ(bob.remaining, 2);
    // A key that is a prefix of another is a different key.
    EXPECT_TRUE(limiter.check("alic", kThreePerMinute).allowed);
    EXPECT_FALSE(limiter.check("alice", kThreePerMinute).allowed);
    EXPECT_EQ(limiter.key_count(), 3U);
}

TEST(MemoryLimiterTest, EachKeyHasItsOwnPolicy) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    const Policy strict{1, seconds(10)};
    const Policy loose{100, seconds(1)};

    EXPECT_TRUE(limiter.check("strict", strict).allowed);
    for (int i = 0; i < 100; ++i) {
        EXPECT_TRUE(limiter.check("loose", loose).allowed) << i;
    }
    auto d = limiter.check("loose", loose);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.limit, 100);
    EXPECT_EQ(d.retry_after_s, 1);
    d = limiter.check("strict", strict);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.limit, 1);
    EXPECT_EQ(d.retry_after_s, 10);

    time.at(seconds(1));  // the loose window has passed, the strict one has not
    EXPECT_TRUE(limiter.check("loose", loose).allowed);
    EXPECT_FALSE(limiter.check("strict", strict).allowed);
    time.at(seconds(10));
    EXPECT_TRUE(limiter.check("strict", strict).allowed);
}

TEST(MemoryLimiterTest, RoundsFractionalSecondsUp) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    const Policy policy{1, milliseconds(2'500)};
    auto d = limiter.check("k", policy);
    EXPECT_EQ(d.reset_s, 3);  // 2.5 s

    time.at(milliseconds(499));
    d = limiter.check("k", policy);
    EXPECT_EQ(d.retry_after_s, 3);  // 2.001 s

    time.at(milliseconds(500));
    d = limiter.check("k", policy);
    EXPECT_EQ(d.retry_after_s, 2);  // exactly 2 s: not rounded further
    EXPECT_EQ(d.reset_s, 2);

    time.at(milliseconds(501));
    d = limiter.check("k", policy);
    EXPECT_EQ(d.retry_after_s, 2);  // 1.999 s

    time.at(milliseconds(2'499));
    d = limiter.check("k", policy);
    EXPECT_EQ(d.retry_after_s, 1);  // 1 ms, never 0 while refused

    const Policy short_window{1, milliseconds(200)};
    EXPECT_EQ(limiter.check("short", short_window).reset_s, 1);  // 0.2 s
}

TEST(MemoryLimiterTest, ZeroLimitRefusesEverything) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    const auto d = limiter.check("k", Policy{0, seconds(30)});
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_EQ(d.retry_after_s, 30);
    EXPECT_EQ(limiter.key_count(), 0U);
}

TEST(MemoryLimiterTest, ManyThreadsOnOneKeyNeverExceedTheLimit) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    const Policy policy{50, seconds(60)};
    constexpr int kThreads = 8;
    constexpr int kHitsPerThread = 100;
    // Per thread, the `remaining` of each allowed hit.
    std::vector<std::vector<int>> remaining(kThreads);
    // All threads begin together, to contend for the shard.
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, &mine = remaining[static_cast<std::size_t>(t)]] {
            start.arrive_and_wait();
            for (int i = 0; i < kHitsPerThread; ++i) {
                const auto d = limiter.check("shared", policy);
                if (d.allowed) {
                    mine.push_back(d.remaining);
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    std::vector<int> all;
    for (const auto& mine : remaining) {
        all.insert(all.end(), mine.begin(), mine.end());
    }
    ASSERT_EQ(all.size(), 50U);
    // Each allowed hit saw a distinct count: 49, 48, ..., 0 in some order.
    std::sort(all.begin(), all.end());
    std::vector<int> expected(50);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(all, expected);
}

TEST(MemoryLimiterTest, SweepDropsKeysWithNothingInTheirWindow) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    limiter.check("a", kThreePerMinute);
    limiter.check("b", kThreePerMinute);
    time.at(nanoseconds(1));
    limiter.check("c", kThreePerMinute);
    EXPECT_EQ(limiter.key_count(), 3U);

    time.at(seconds(60));  // a and b have just left their window; c has 1 ns to go
    EXPECT_EQ(limiter.sweep(), 2U);
    EXPECT_EQ(limiter.key_count(), 1U);

    // A swept key starts afresh.
    const auto d = limiter.check("a", kThreePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 2);
    // The full key kept its count.
    limiter.check("c", kThreePerMinute);
    limiter.check("c", kThreePerMinute);
    EXPECT_FALSE(limiter.check("c", kThreePerMinute).allowed);
}

// Without a sweep, every key ever seen would stay. Rounds of distinct keys, each round a window
// after the last, so only the current round's keys are live: shards sweep themselves as they are
// hit and the total stays under twice the live keys plus kSweepEvery per shard.
TEST(MemoryLimiterTest, ShardsSweepThemselvesSoMemoryStaysBounded) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    constexpr std::size_t kKeysPerRound = 1'000;
    constexpr std::size_t kRounds = 50;
    constexpr std::size_t kBound =
        2 * kKeysPerRound + MemoryLimiter::kShards * MemoryLimiter::kSweepEvery;
    static_assert(kKeysPerRound * kRounds > 2 * kBound);
    std::size_t most = 0;
    for (std::size_t round = 0; round < kRounds; ++round) {
        time.at(seconds(60 * static_cast<long>(round)));
        for (std::size_t i = 0; i < kKeysPerRound; ++i) {
            const auto key = std::to_string(round) + "-" + std::to_string(i);
            ASSERT_TRUE(limiter.check(key, kThreePerMinute).allowed);
        }
        most = std::max(most, limiter.key_count());
    }
    EXPECT_LE(most, kBound);
    EXPECT_GE(limiter.key_count(), kKeysPerRound);  // the live round is all there
}

TEST(MemoryLimiterTest, HitCoroutineCountsLikeCheck) {
    FakeClock time;
    auto limiter = make_memory_limiter(time.clock());
    const Policy policy{2, seconds(5)};
    auto d = testing::run_awaitable(limiter->hit("k", policy));
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 1);
    EXPECT_EQ(d.reset_s, 5);
    d = testing::run_awaitable(limiter->hit("k", policy));
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    d = testing::run_awaitable(limiter->hit("k", policy));
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 5);
}

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(RateLimitHeadersTest, AllowedHasNoRetryAfter) {
    const Decision allowed{true, 60, 59, 60, 0};
    const Headers expected{
        {"X-RateLimit-Limit", "60"},
        {"X-RateLimit-Remaining", "59"},
        {"X-RateLimit-Reset", "60"},
    };
    EXPECT_EQ(rate_limit_headers(allowed), expected);
}

TEST(RateLimitHeadersTest, RefusedAddsRetryAfter) {
    const Decision refused{false, 3, 0, 30, 30};
    const Headers expected{
        {"X-RateLimit-Limit", "3"},
        {"X-RateLimit-Remaining", "0"},
        {"X-RateLimit-Reset", "30"},
        {"Retry-After", "30"},
    };
    EXPECT_EQ(rate_limit_headers(refused), expected);
}

}  // namespace
}  // namespace parley::ratelimit
