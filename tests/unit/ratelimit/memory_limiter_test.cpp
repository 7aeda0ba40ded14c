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

// The semantics every limiter shares are in limiter_semantics_test.cpp, run against this one and
// the Redis one. Here: what only the in-memory limiter has (nanosecond time, its key table, its
// shards under threads).

// Redis keeps microseconds; memory keeps the clock's nanoseconds.
TEST(MemoryLimiterTest, ANanosecondBeforeTheEdgeStillCounts) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    const Policy policy{1, seconds(1)};
    EXPECT_TRUE(limiter.check("k", policy).allowed);
    time.at(seconds(1) - nanoseconds(1));
    const auto before = limiter.check("k", policy);
    EXPECT_FALSE(before.allowed);
    EXPECT_EQ(before.retry_after_s, 1);
    time.at(seconds(1));
    EXPECT_TRUE(limiter.check("k", policy).allowed);
}

TEST(MemoryLimiterTest, HoldsOneEntryPerKeyAndNoneForAZeroLimit) {
    FakeClock time;
    MemoryLimiter limiter(time.clock());
    EXPECT_FALSE(limiter.check("zero", Policy{0, seconds(30)}).allowed);
    EXPECT_EQ(limiter.key_count(), 0U);
    for (const auto* key : {"alice", "alice", "bob", "alic"}) {
        limiter.check(key, kThreePerMinute);
    }
    EXPECT_EQ(limiter.key_count(), 3U);
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
