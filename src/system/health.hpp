// Liveness and readiness: uptime and a database check whose result is cached for a short time, so
// that a load balancer (or a benchmark) polling /health does not turn into a database load.
#pragma once

#include <atomic>
#include <chrono>

#include <boost/asio/awaitable.hpp>

#include "store/store.hpp"

namespace parley::system {

class HealthMonitor {
public:
    explicit HealthMonitor(
        store::Store& store, std::chrono::milliseconds cache_for = std::chrono::seconds(1)
    );

    // Whether the database answered its last check. Runs a new check (store ping) when the cached
    // one is older than `cache_for`; concurrent callers meanwhile get the cached answer.
    boost::asio::awaitable<bool> database_ok();

    double uptime_s() const;

private:
    store::Store& store_;
    std::chrono::milliseconds cache_for_;
    std::chrono::steady_clock::time_point started_;
    std::atomic<std::int64_t> checked_at_ns_{0};  // steady clock; 0: never checked
    std::atomic<bool> ok_{false};
    std::atomic<bool> checking_{false};
};

}  // namespace parley::system
