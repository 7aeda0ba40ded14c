// The in-memory Limiter, for a single process: an exact sliding-window log. Per key it keeps the
// times of the requests counted within the last `window`; a request is allowed iff fewer than
// `limit` of them remain. Keys are spread over kShards shards, each with its own mutex, so threads
// rarely contend; each shard drops keys with nothing left in their window every so often, so
// memory follows the keys active within a window, not every key ever seen. Time comes from an
// injectable clock, so tests can move it by hand.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "ratelimit/limiter.hpp"

namespace parley::ratelimit {

class MemoryLimiter final : public Limiter {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    static constexpr std::size_t kShards = 32;
    // A shard sweeps after this many hits, or after as many hits as it kept keys at its last
    // sweep if that is more, so the sweep costs O(1) per hit and a shard holds at most about
    // twice its live keys plus kSweepEvery.
    static constexpr std::size_t kSweepEvery = 256;

    // `clock` defaults to std::chrono::steady_clock::now. It is called with a shard's mutex held,
    // so it must not call back into this limiter; it must never go backwards.
    explicit MemoryLimiter(Clock clock = {});
    ~MemoryLimiter() override;
    MemoryLimiter(const MemoryLimiter&) = delete;
    MemoryLimiter& operator=(const MemoryLimiter&) = delete;

    // Limiter::hit: returns check(key, policy) without suspending; no error, no I/O, so
    // cancellation has nothing to interrupt.
    boost::asio::awaitable<Decision> hit(std::string_view key, Policy policy) override;

    // What hit does, callable without an io_context. Never fails (only std::bad_alloc).
    // Thread-safe.
    Decision check(std::string_view key, Policy policy);

    // Drops, in every shard now, the keys with no request left in their window. Returns how many
    // were dropped. Not needed for correctness: shards also sweep themselves as they are hit.
    std::size_t sweep();

    // How many keys are held, stale ones not yet swept included. Thread-safe; for tests and
    // metrics.
    std::size_t key_count() const;

private:
    struct Shard;

    Shard& shard_for(std::string_view key) const noexcept;

    Clock clock_;
    std::unique_ptr<std::array<Shard, kShards>> shards_;
};

// The in-memory limiter behind the Limiter interface; `clock` as for MemoryLimiter.
std::unique_ptr<Limiter> make_memory_limiter(MemoryLimiter::Clock clock = {});

}  // namespace parley::ratelimit
