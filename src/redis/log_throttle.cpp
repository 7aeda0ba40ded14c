#include "redis/log_throttle.hpp"

namespace parley::redis {

std::optional<std::uint64_t> LogThrottle::allow() {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch()
    )
                                 .count();
    std::int64_t next = next_ns_.load(std::memory_order_relaxed);
    const auto every = std::chrono::duration_cast<std::chrono::nanoseconds>(every_).count();
    while (now >= next) {
        // One thread wins the interval; the others count as suppressed.
        if (next_ns_.compare_exchange_weak(next, now + every, std::memory_order_relaxed)) {
            return suppressed_.exchange(0, std::memory_order_relaxed);
        }
    }
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
}

}  // namespace parley::redis
