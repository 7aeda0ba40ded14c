// Liveness and readiness: uptime and a database check whose result is cached for a short time, so
// that a load balancer (or a benchmark) polling /health does not turn into a database load.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"

namespace parley::system {

class HealthMonitor {
public:
    // The check a health probe runs: a cheap round trip to the database (Store::ping).
    using Check = std::function<boost::asio::awaitable<Result<void>>()>;

    explicit HealthMonitor(
        Check check, std::chrono::milliseconds cache_for = std::chrono::seconds(1)
    );

    // Whether the database answered its last check. Runs a new check (store ping) when the cached
    // one is older than `cache_for`; concurrent callers meanwhile get the cached answer.
    boost::asio::awaitable<bool> database_ok();

    double uptime_s() const;

private:
    Check check_;
    std::chrono::milliseconds cache_for_;
    std::chrono::steady_clock::time_point started_;
    std::atomic<std::int64_t> checked_at_ns_{0};  // steady clock; 0: never checked
    std::atomic<bool> ok_{false};
    std::atomic<bool> checking_{false};
};

}  // namespace parley::system
