// The sliding-window-log semantics every Limiter must have, run against each implementation: in
// memory, and on Redis (the fixture's server, PARLEY_TEST_REDIS_URL). Both read the same fake
// clock: the Redis limiter hands it to its script in place of the server's TIME.
#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "common/ids.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "ratelimit/redis_limiter.hpp"
#include "support/redis_server.hpp"
#include "support/run_awaitable.hpp"

namespace parley::ratelimit {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// A clock that moves only when the test says so. Time starts at a whole hour, so "t = 60 s" is
// also a minute boundary of the clock.
class FakeClock {
public:
    std::chrono::steady_clock::time_point now() const { return now_; }

    // Sets the time to `t` after the start.
    void at(nanoseconds t) { now_ = kStart + t; }

private:
    static constexpr auto kStart = std::chrono::steady_clock::time_point{} + hours(1000);
    std::chrono::steady_clock::time_point now_ = kStart;
};

enum class Backend { memory, redis };

// For the test names CTest lists (instead of the parameter's bytes).
void PrintTo(Backend backend, std::ostream* os) {
    *os << (backend == Backend::memory ? "memory" : "redis");
}

// 3 per minute, the policy of the worked example in the brief.
constexpr Policy kThreePerMinute{3, seconds(60)};

class LimiterSemanticsTest : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        if (GetParam() == Backend::memory) {
            limiter_ = make_memory_limiter([this] { return time_.now(); });
            return;
        }
        const auto url = parley::testing::test_redis_url();
        if (!url) {
            GTEST_SKIP() << "PARLEY_TEST_REDIS_URL is not set";
        }
        redis::ClientOptions options;
        options.endpoint = redis::parse_url(*url).value();
        client_ = std::make_unique<redis::Client>(options);
        ASSERT_TRUE(client_->wait_connected(std::chrono::seconds(5)));
        RedisLimiterOptions limiter_options;
        // Keys of this test only: tests may share the server concurrently.
        limiter_options.key_prefix = "test:" + new_uuid_v7() + ":";
        limiter_options.clock = [this] {
            return std::chrono::duration_cast<std::chrono::microseconds>(
                time_.now().time_since_epoch()
            );
        };
        auto limiter = std::make_unique<RedisLimiter>(*client_, limiter_options);
        redis_ = limiter.get();
        limiter_ = std::move(limiter);
    }

    void TearDown() override {
        if (redis_ != nullptr) {
            // A check that failed open would pass for an allowed one: there must be none.
            EXPECT_EQ(redis_->failures(), 0U);
        }
    }

    Decision check(std::string_view key, Policy policy) {
        return parley::testing::run_awaitable(limiter_->hit(key, policy));
    }

    FakeClock time_;
    std::unique_ptr<redis::Client> client_;
    std::unique_ptr<Limiter> limiter_;
    RedisLimiter* redis_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(
    Backends,
    LimiterSemanticsTest,
    ::testing::Values(Backend::memory, Backend::redis),
    [](const ::testing::TestParamInfo<Backend>& param) {
        return param.param == Backend::memory ? "memory" : "redis";
    }
);

TEST_P(LimiterSemanticsTest, AllowsExactlyLimitCountingRemainingDown) {
    const Policy policy{5, seconds(60)};
    for (int expected_remaining = 4; expected_remaining >= 0; --expected_remaining) {
        const auto d = check("k", policy);
        EXPECT_TRUE(d.allowed);
        EXPECT_EQ(d.limit, 5);
        EXPECT_EQ(d.remaining, expected_remaining);
        EXPECT_EQ(d.reset_s, 60);
        EXPECT_EQ(d.retry_after_s, 0);
    }
    const auto refused = check("k", policy);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.limit, 5);
    EXPECT_EQ(refused.remaining, 0);
    EXPECT_EQ(refused.reset_s, 60);
    EXPECT_EQ(refused.retry_after_s, 60);
}

// Hits at t = 0, 10, 20 s under 3 per 60 s. The window is half-open: a request made at t counts
// while now < t + 60 s, so at exactly t = 60 s the first request has left and one slot is free.
TEST_P(LimiterSemanticsTest, WorkedExampleAtTheWindowEdge) {
    time_.at(seconds(0));
    auto d = check("k", kThreePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 2);
    EXPECT_EQ(d.reset_s, 60);

    time_.at(seconds(10));
    d = check("k", kThreePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 1);
    EXPECT_EQ(d.reset_s, 50);  // the t = 0 request leaves at 60 s

    time_.at(seconds(20));
    d = check("k", kThreePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_EQ(d.reset_s, 40);
    EXPECT_EQ(d.retry_after_s, 0);

    time_.at(seconds(30));
    d = check("k", kThreePerMinute);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_EQ(d.retry_after_s, 30);
    EXPECT_EQ(d.reset_s, 30);

    time_.at(milliseconds(59'999));
    d = check("k", kThreePerMinute);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 1);  // 1 ms, rounded up
    EXPECT_EQ(d.reset_s, 1);

    // Redis keeps microseconds: 1 µs before the edge stands for "just before" on both.
    time_.at(seconds(60) - std::chrono::microseconds(1));
    EXPECT_FALSE(check("k", kThreePerMinute).allowed);

    time_.at(seconds(60));
    d = check("k", kThreePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);  // 10 s, 20 s and 60 s are counted
    EXPECT_EQ(d.reset_s, 10);   // the t = 10 s request leaves at 70 s
    EXPECT_EQ(d.retry_after_s, 0);

    // Exactly one slot was free: the next request at the same instant is refused.
    d = check("k", kThreePerMinute);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 10);
}

TEST_P(LimiterSemanticsTest, BoundaryIsExclusiveBothSides) {
    const Policy policy{1, seconds(1)};
    EXPECT_TRUE(check("k", policy).allowed);  // t = 0

    time_.at(seconds(1) - std::chrono::microseconds(1));
    const auto before = check("k", policy);
    EXPECT_FALSE(before.allowed);
    EXPECT_EQ(before.retry_after_s, 1);  // 1 µs, rounded up to a whole second

    time_.at(seconds(1));
    const auto at = check("k", policy);
    EXPECT_TRUE(at.allowed);
    EXPECT_EQ(at.reset_s, 1);
}

TEST_P(LimiterSemanticsTest, RefusedRequestsAreNotCounted) {
    const Policy policy{2, seconds(10)};
    time_.at(seconds(0));
    EXPECT_TRUE(check("k", policy).allowed);
    time_.at(seconds(1));
    EXPECT_TRUE(check("k", policy).allowed);
    // Hammer the key while it is full. Were refusals counted, it would stay full until t = 19.999.
    for (int ms = 2'000; ms < 10'000; ms += 250) {
        time_.at(milliseconds(ms));
        EXPECT_FALSE(check("k", policy).allowed) << ms;
    }
    time_.at(seconds(10));  // the t = 0 request leaves
    auto d = check("k", policy);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_EQ(d.reset_s, 1);  // the t = 1 request leaves at 11 s

    time_.at(milliseconds(10'500));
    d = check("k", policy);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 1);

    time_.at(seconds(11));  // the t = 1 request leaves
    d = check("k", policy);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.reset_s, 9);  // the t = 10 request leaves at 20 s
}

// A fixed per-minute window would reset at t = 60 s; a sliding one still counts the requests made
// in the last seconds of the previous minute.
TEST_P(LimiterSemanticsTest, WindowSlidesAcrossMinuteBoundaries) {
    for (const int s : {50, 55, 59}) {
        time_.at(seconds(s));
        EXPECT_TRUE(check("k", kThreePerMinute).allowed) << s;
    }
    time_.at(seconds(61));
    auto d = check("k", kThreePerMinute);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 49);  // the t = 50 request leaves at 110 s

    time_.at(seconds(109));
    EXPECT_FALSE(check("k", kThreePerMinute).allowed);

    time_.at(seconds(110));
    d = check("k", kThreePerMinute);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    EXPECT_EQ(d.reset_s, 5);  // the t = 55 request leaves at 115 s
}

TEST_P(LimiterSemanticsTest, KeysAreIndependent) {
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(check("alice", kThreePerMinute).allowed);
    }
    EXPECT_FALSE(check("alice", kThreePerMinute).allowed);

    const auto bob = check("bob", kThreePerMinute);
    EXPECT_TRUE(bob.allowed);
    EXPECT_EQ(bob.remaining, 2);
    // A key that is a prefix of another is a different key.
    EXPECT_TRUE(check("alic", kThreePerMinute).allowed);
    EXPECT_FALSE(check("alice", kThreePerMinute).allowed);
}

TEST_P(LimiterSemanticsTest, EachKeyHasItsOwnPolicy) {
    const Policy strict{1, seconds(10)};
    const Policy loose{100, seconds(1)};

    EXPECT_TRUE(check("strict", strict).allowed);
    for (int i = 0; i < 100; ++i) {
        EXPECT_TRUE(check("loose", loose).allowed) << i;
    }
    auto d = check("loose", loose);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.limit, 100);
    EXPECT_EQ(d.retry_after_s, 1);
    d = check("strict", strict);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.limit, 1);
    EXPECT_EQ(d.retry_after_s, 10);

    time_.at(seconds(1));  // the loose window has passed, the strict one has not
    EXPECT_TRUE(check("loose", loose).allowed);
    EXPECT_FALSE(check("strict", strict).allowed);
    time_.at(seconds(10));
    EXPECT_TRUE(check("strict", strict).allowed);
}

// Requests counted under a higher limit: after the limit drops, a request is allowed again only
// once enough of them have left for fewer than the new limit to remain, not when the oldest does.
TEST_P(LimiterSemanticsTest, ALoweredLimitWaitsForEnoughRequestsToLeave) {
    for (const int s : {0, 10, 20}) {
        time_.at(seconds(s));
        EXPECT_TRUE(check("k", kThreePerMinute).allowed) << s;
    }
    time_.at(seconds(30));
    const Policy one{1, seconds(60)};
    auto d = check("k", one);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.limit, 1);
    EXPECT_EQ(d.retry_after_s, 50);  // the t = 20 request, the last of three, leaves at 80 s
    EXPECT_EQ(d.reset_s, 50);
    time_.at(seconds(70));  // two have left; one remains
    EXPECT_FALSE(check("k", one).allowed);
    time_.at(seconds(80));
    EXPECT_TRUE(check("k", one).allowed);
}

TEST_P(LimiterSemanticsTest, RoundsFractionalSecondsUp) {
    const Policy policy{1, milliseconds(2'500)};
    auto d = check("k", policy);
    EXPECT_EQ(d.reset_s, 3);  // 2.5 s

    time_.at(milliseconds(499));
    d = check("k", policy);
    EXPECT_EQ(d.retry_after_s, 3);  // 2.001 s

    time_.at(milliseconds(500));
    d = check("k", policy);
    EXPECT_EQ(d.retry_after_s, 2);  // exactly 2 s: not rounded further
    EXPECT_EQ(d.reset_s, 2);

    time_.at(milliseconds(501));
    d = check("k", policy);
    EXPECT_EQ(d.retry_after_s, 2);  // 1.999 s

    time_.at(milliseconds(2'499));
    d = check("k", policy);
    EXPECT_EQ(d.retry_after_s, 1);  // 1 ms, never 0 while refused

    const Policy short_window{1, milliseconds(200)};
    EXPECT_EQ(check("short", short_window).reset_s, 1);  // 0.2 s
}

TEST_P(LimiterSemanticsTest, ZeroLimitRefusesEverything) {
    for (const int limit : {0, -1}) {
        const auto d = check("k", Policy{limit, seconds(30)});
        EXPECT_FALSE(d.allowed);
        EXPECT_EQ(d.limit, limit);
        EXPECT_EQ(d.remaining, 0);
        EXPECT_EQ(d.retry_after_s, 30);
        EXPECT_EQ(d.reset_s, 30);
    }
}

TEST_P(LimiterSemanticsTest, HitCoroutineCountsOnTheSameWindow) {
    const Policy policy{2, seconds(5)};
    auto d = check("k", policy);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 1);
    EXPECT_EQ(d.reset_s, 5);
    d = check("k", policy);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0);
    d = check("k", policy);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_s, 5);
}

}  // namespace
}  // namespace parley::ratelimit
