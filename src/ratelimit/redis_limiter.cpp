#include "ratelimit/redis_limiter.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <vector>

#include <openssl/evp.h>

#include "common/ids.hpp"
#include "common/log.hpp"

namespace parley::ratelimit {

namespace asio = boost::asio;

namespace {

// KEYS[1]: the key's sorted set (member: unique per request, score: its time in µs).
// ARGV: limit (> 0), window (µs), now (µs; empty: the server's TIME), member.
// Returns {allowed 0/1, counted before this request, µs until the slot that matters is free}:
// when allowed, until the oldest counted request leaves; when refused, until the one whose
// leaving brings the count under the limit leaves (the oldest, unless the limit was lowered).
// redis.call turns Lua numbers into arguments with %.17g, so µs since 1970 stay exact.
constexpr std::string_view kScript = R"lua(
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local counted = redis.call('ZCARD', KEYS[1])
if counted < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {1, counted, tonumber(oldest[2]) + window - now}
end
local nth = redis.call('ZRANGE', KEYS[1], counted - limit, counted - limit, 'WITHSCORES')
return {0, counted, tonumber(nth[2]) + window - now}
)lua";

std::string sha1_hex(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha1(), nullptr);
    constexpr std::string_view kHex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0x0F]);
    }
    return out;
}

// Whole seconds in `us`, rounded up; 0 when not positive.
int ceil_seconds(long long us) {
    if (us <= 0) {
        return 0;
    }
    const long long s = (us + 999'999) / 1'000'000;
    return static_cast<int>(std::min<long long>(s, std::numeric_limits<int>::max()));
}

// The decision in a script reply, or nullopt if the reply is not one.
std::optional<Decision> decode(const redis::Reply& reply, Policy policy) {
    if (reply.type != redis::Reply::Type::array || reply.elements.size() != 3 ||
        std::any_of(reply.elements.begin(), reply.elements.end(), [](const auto& e) {
            return e.type != redis::Reply::Type::integer;
        })) {
        return std::nullopt;
    }
    const bool allowed = reply.elements[0].integer == 1;
    const long long counted = reply.elements[1].integer;
    const long long until_us = reply.elements[2].integer;
    Decision d;
    d.limit = policy.limit;
    if (allowed) {
        d.allowed = true;
        d.remaining = static_cast<int>(std::max<long long>(0, policy.limit - counted - 1));
        d.reset_s = ceil_seconds(until_us);
    } else {
        d.retry_after_s = std::max(1, ceil_seconds(until_us));
        d.reset_s = d.retry_after_s;
    }
    return d;
}

}  // namespace

RedisLimiter::RedisLimiter(redis::Client& client, RedisLimiterOptions options)
    : client_(client),
      options_(std::move(options)),
      sha_(sha1_hex(kScript)),
      member_base_(new_uuid_v7().substr(24) + ":"),
      warnings_(options_.warn_every) {}

asio::awaitable<Decision> RedisLimiter::hit(std::string_view key, Policy policy) {
    if (policy.limit <= 0) {
        // Nothing will ever be allowed: as MemoryLimiter, the window stands in for Retry-After.
        Decision d;
        d.limit = policy.limit;
        d.retry_after_s = std::max(1, ceil_seconds(policy.window.count() * 1000LL));
        d.reset_s = d.retry_after_s;
        co_return d;
    }
    const auto window_us = std::chrono::duration_cast<std::chrono::microseconds>(policy.window);
    std::vector<std::string> args{
        "EVALSHA",
        sha_,
        "1",
        options_.key_prefix + std::string(key),
        std::to_string(policy.limit),
        std::to_string(window_us.count()),
        options_.clock ? std::to_string(options_.clock().count()) : std::string(),
        member_base_ + std::to_string(sequence_.fetch_add(1, std::memory_order_relaxed)),
    };
    auto reply = co_await client_.command(args);
    if (reply && reply->is_error("NOSCRIPT")) {
        args[0] = "EVAL";
        args[1] = std::string(kScript);
        reply = co_await client_.command(std::move(args));
    }
    if (!reply) {
        co_return fail_open(policy, reply.error().detail);
    }
    if (auto decision = decode(*reply, policy)) {
        co_return *decision;
    }
    co_return fail_open(policy, reply->is_error() ? reply->str : "unexpected reply to the script");
}

Decision RedisLimiter::fail_open(Policy policy, std::string_view why) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (options_.on_failure) {
        options_.on_failure();
    }
    if (const auto suppressed = warnings_.allow()) {
        log::warn(
            "rate limit not enforced: redis did not answer, request allowed",
            {{"error", why}, {"suppressed_since_last", *suppressed}}
        );
    }
    Decision d;
    d.allowed = true;
    d.limit = policy.limit;
    d.remaining = std::max(0, policy.limit - 1);
    d.reset_s =
        ceil_seconds(std::chrono::duration_cast<std::chrono::microseconds>(policy.window).count());
    return d;
}

std::unique_ptr<Limiter> make_redis_limiter(redis::Client& client, RedisLimiterOptions options) {
    return std::make_unique<RedisLimiter>(client, std::move(options));
}

}  // namespace parley::ratelimit
