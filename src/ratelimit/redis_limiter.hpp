// The Limiter of the scale-out set-up (REDIS_URL): the exact sliding-window log of MemoryLimiter,
// kept in Redis so that every Parley instance counts against the same limits. Per key, a sorted
// set holds the times (µs) of the requests counted; one Lua script per check drops the ones that
// have left the window, counts the rest, and adds this request if there is room, atomically on the
// server and with the server's clock (TIME), so instances whose clocks disagree still agree. The
// script runs by EVALSHA, with EVAL when the server does not know it (NOSCRIPT: a restart, SCRIPT
// FLUSH). When Redis cannot answer, checks fail open: allowed, with the policy's limit in the
// headers; a warning is logged at most once per `warn_every` and each failure is counted.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "ratelimit/limiter.hpp"
#include "redis/client.hpp"
#include "redis/log_throttle.hpp"

namespace parley::ratelimit {

struct RedisLimiterOptions {
    std::string key_prefix = "parley:rl:";  // + the limiter key = the sorted set's name
    std::chrono::milliseconds warn_every{10'000};
    // Called once for every check that failed open (for /metrics). Any thread; must not block.
    std::function<void()> on_failure;
    // For tests only: the time the script uses instead of the server's TIME, as time since any
    // fixed epoch; it must never go backwards. Empty in production.
    std::function<std::chrono::microseconds()> clock;
};

class RedisLimiter final : public Limiter {
public:
    // `client` must outlive the limiter.
    explicit RedisLimiter(redis::Client& client, RedisLimiterOptions options = {});

    // Limiter::hit, on Redis: one round trip (two the first time a server sees the script). Never
    // fails: when Redis is unreachable, slow (the client's command timeout) or answers nonsense,
    // the request is allowed (remaining = limit - 1, reset = the window). A policy whose limit is
    // <= 0 is refused without asking Redis. Resumes on the caller's executor.
    boost::asio::awaitable<Decision> hit(std::string_view key, Policy policy) override;

    // Checks that failed open since start. Thread-safe.
    std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

private:
    Decision fail_open(Policy policy, std::string_view why);

    redis::Client& client_;
    RedisLimiterOptions options_;
    std::string sha_;          // SHA1 of the script, hex, for EVALSHA
    std::string member_base_;  // unique to this limiter: sorted-set members never collide
    std::atomic<std::uint64_t> sequence_{0};
    std::atomic<std::uint64_t> failures_{0};
    redis::LogThrottle warnings_;
};

std::unique_ptr<Limiter> make_redis_limiter(
    redis::Client& client, RedisLimiterOptions options = {}
);

}  // namespace parley::ratelimit
