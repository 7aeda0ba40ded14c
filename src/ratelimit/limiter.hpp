// The rate-limiter interface: `Limiter::hit` counts one request for a key (an API key, a user, an
// IP address) under a policy (so many requests per window) and answers with a Decision, which
// carries everything the HTTP layer needs for the X-RateLimit-* and Retry-After headers. Windows
// slide: a request counts for exactly `window` after it was made, whatever the wall-clock minute.
// Implementations: in memory (memory_limiter.hpp, one process) and, for scale-out, Redis.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace parley::ratelimit {

// The answer to one request.
struct Decision {
    bool allowed = false;
    int limit = 0;      // the policy's limit (X-RateLimit-Limit)
    int remaining = 0;  // requests left in the window after this one (X-RateLimit-Remaining), >= 0
    // Whole seconds, rounded up, until the oldest request counted in the window leaves it and frees
    // a slot (X-RateLimit-Reset, delta seconds); 0 when none is counted. When `remaining` is 0 this
    // is when the window next has room for one more request. >= 0.
    int reset_s = 0;
    // When !allowed: whole seconds, rounded up, until a request would be allowed (Retry-After),
    // >= 1. 0 when allowed.
    int retry_after_s = 0;
};

// At most `limit` requests in any `window`. A request made at time t counts until t + window,
// exclusive: at exactly t + window its slot is free again. `limit` <= 0 refuses every request.
struct Policy {
    int limit = 0;
    std::chrono::milliseconds window{0};
};

class Limiter {
public:
    virtual ~Limiter() = default;

    // Counts one request for `key` under `policy` and says whether it is allowed. A refused request
    // is not counted. Thread-safe. Use one policy per key: requests already counted are judged
    // under whatever policy the next call passes. Returns no error value; an implementation that
    // cannot reach its backend throws. `key` must stay valid until the awaitable completes (the
    // caller co_awaits at once). Resumes on the caller's executor.
    virtual boost::asio::awaitable<Decision> hit(std::string_view key, Policy policy) = 0;
};

// The response headers for a decision, in this order: X-RateLimit-Limit, X-RateLimit-Remaining,
// X-RateLimit-Reset, and Retry-After only when the request was refused. Values are decimal.
std::vector<std::pair<std::string, std::string>> rate_limit_headers(const Decision& decision);

}  // namespace parley::ratelimit
