#include "system/health.hpp"

namespace parley::system {

namespace {

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch()
    )
        .count();
}

}  // namespace

HealthMonitor::HealthMonitor(Check check, std::chrono::milliseconds cache_for)
    : check_(std::move(check)),
      cache_for_(cache_for),
      started_(std::chrono::steady_clock::now()) {}

boost::asio::awaitable<bool> HealthMonitor::database_ok() {
    const auto checked = checked_at_ns_.load(std::memory_order_acquire);
    const bool stale =
        checked == 0 || now_ns() - checked >= std::chrono::nanoseconds(cache_for_).count();
    // The first caller to find the result stale runs the check; the others use the cached answer,
    // except before any check has finished, when everyone checks for themselves.
    if (stale && (checked == 0 || !checking_.exchange(true, std::memory_order_acq_rel))) {
        const auto result = co_await check_();
        ok_.store(result.has_value(), std::memory_order_release);
        checked_at_ns_.store(now_ns(), std::memory_order_release);
        checking_.store(false, std::memory_order_release);
        co_return result.has_value();
    }
    co_return ok_.load(std::memory_order_acquire);
}

double HealthMonitor::uptime_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

}  // namespace parley::system
