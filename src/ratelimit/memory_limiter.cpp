#include "ratelimit/memory_limiter.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/string_map.hpp"

namespace parley::ratelimit {

namespace {

using TimePoint = std::chrono::steady_clock::time_point;

// Whole seconds from `now` until `when`, rounded up; 0 if `when` is not in the future.
int seconds_until(TimePoint when, TimePoint now) {
    if (when <= now) {
        return 0;
    }
    const auto s = std::chrono::ceil<std::chrono::seconds>(when - now).count();
    if (s > std::numeric_limits<int>::max()) {
        return std::numeric_limits<int>::max();
    }
    return static_cast<int>(s);
}

}  // namespace

struct alignas(64) MemoryLimiter::Shard {
    // The requests counted for one key, oldest first. times[first..] were in the window at the last
    // prune; times[..first] are spent, erased in bulk once they are half the vector so that a key
    // at its limit (one expiry per hit) does not shift the whole vector every time. A vector, not a
    // deque: libstdc++'s deque allocates a 512-byte block even for one entry, and most keys hold a
    // handful.
    struct Log {
        std::vector<TimePoint> times;
        std::size_t first = 0;
        std::chrono::milliseconds window{0};  // of the last policy used, for the sweep

        std::size_t count() const noexcept { return times.size() - first; }

        // A request made at t counts while now - t < window: at exactly t + window it has left.
        bool expired(TimePoint t, TimePoint now) const noexcept { return now - t >= window; }

        bool stale(TimePoint now) const noexcept {
            return count() == 0 || expired(times.back(), now);
        }

        void prune(TimePoint now) {
            while (first < times.size() && expired(times[first], now)) {
                ++first;
            }
            if (first == times.size()) {
                times.clear();
                first = 0;
            } else if (first * 2 >= times.size()) {
                times.erase(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(first));
                first = 0;
            }
        }
    };

    mutable std::mutex mutex;
    StringMap<Log> logs;
    std::size_t hits_since_sweep = 0;
    std::size_t kept_at_sweep = 0;

    std::size_t sweep(TimePoint now) {
        const std::size_t before = logs.size();
        std::erase_if(logs, [now](const auto& entry) { return entry.second.stale(now); });
        hits_since_sweep = 0;
        kept_at_sweep = logs.size();
        return before - logs.size();
    }
};

MemoryLimiter::MemoryLimiter(Clock clock)
    : clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      shards_(std::make_unique<std::array<Shard, kShards>>()) {}

MemoryLimiter::~MemoryLimiter() = default;

MemoryLimiter::Shard& MemoryLimiter::shard_for(std::string_view key) const noexcept {
    return (*shards_)[StringHash{}(key) % kShards];
}

boost::asio::awaitable<Decision> MemoryLimiter::hit(std::string_view key, Policy policy) {
    co_return check(key, policy);
}

Decision MemoryLimiter::check(std::string_view key, Policy policy) {
    Shard& shard = shard_for(key);
    const std::lock_guard lock(shard.mutex);
    // Read under the lock, so that each key's times are in order even when threads race.
    const TimePoint now = clock_();
    if (++shard.hits_since_sweep >= std::max(kSweepEvery, shard.kept_at_sweep)) {
        shard.sweep(now);
    }

    Decision decision;
    decision.limit = policy.limit;
    auto it = shard.logs.find(key);
    if (it == shard.logs.end()) {
        if (policy.limit <= 0) {
            // Nothing will ever be allowed; no need to remember the key. There is no true
            // Retry-After, so the window stands in for it.
            decision.retry_after_s = std::max(1, seconds_until(now + policy.window, now));
            decision.reset_s = decision.retry_after_s;
            return decision;
        }
        it = shard.logs.emplace(std::string(key), Shard::Log{}).first;
    }
    Shard::Log& log = it->second;
    log.window = policy.window;
    log.prune(now);
    const std::size_t counted = log.count();

    if (policy.limit > 0 && counted < static_cast<std::size_t>(policy.limit)) {
        log.times.push_back(now);
        decision.allowed = true;
        decision.remaining = policy.limit - static_cast<int>(counted) - 1;
        decision.reset_s = seconds_until(log.times[log.first] + policy.window, now);
        return decision;
    }

    // Refused, and not counted. A request is allowed again once enough counted ones have left the
    // window for fewer than `limit` to remain: when the (counted - limit + 1)-th oldest leaves.
    // That is the oldest, unless the key was used with a higher limit before; then reset_s (when
    // the oldest leaves) would be too early, so both say when the next request can succeed.
    TimePoint opens = now + policy.window;
    if (policy.limit > 0) {
        opens =
            log.times[log.first + counted - static_cast<std::size_t>(policy.limit)] + policy.window;
    }
    decision.retry_after_s = std::max(1, seconds_until(opens, now));
    decision.reset_s = decision.retry_after_s;
    return decision;
}

std::size_t MemoryLimiter::sweep() {
    std::size_t dropped = 0;
    for (Shard& shard : *shards_) {
        const std::lock_guard lock(shard.mutex);
        dropped += shard.sweep(clock_());
    }
    return dropped;
}

std::size_t MemoryLimiter::key_count() const {
    std::size_t keys = 0;
    for (const Shard& shard : *shards_) {
        const std::lock_guard lock(shard.mutex);
        keys += shard.logs.size();
    }
    return keys;
}

std::unique_ptr<Limiter> make_memory_limiter(MemoryLimiter::Clock clock) {
    return std::make_unique<MemoryLimiter>(std::move(clock));
}

}  // namespace parley::ratelimit
