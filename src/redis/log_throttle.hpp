// Keeps a warning that can repeat on every request (Redis is down: every rate-limit check fails
// open, every publish stays local) to one log line per interval, with the count of the ones left
// out in between. Lock-free and thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace parley::redis {

class LogThrottle {
public:
    explicit LogThrottle(std::chrono::milliseconds every) : every_(every) {}

    // Whether the caller should log now: at most once per interval, the first call included.
    // When it should, returns how many calls were refused since the last line; else nullopt.
    std::optional<std::uint64_t> allow();

private:
    std::chrono::milliseconds every_;
    std::atomic<std::int64_t> next_ns_{0};  // steady-clock time of the next allowed line
    std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace parley::redis
