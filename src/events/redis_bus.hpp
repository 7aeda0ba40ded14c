// The EventBus of the scale-out set-up (REDIS_URL): events cross Parley instances through Redis
// pub/sub. publish() delivers to this instance's subscribers at once, as the memory bus does (no
// round trip), and PUBLISHes `{"name","data","origin"}` on `parley:conv:<conversation_id>`; each
// instance PSUBSCRIBEs `parley:conv:*` on the client's subscriber connection and hands on the
// messages of other origins to its local subscribers (its own come back too, and are skipped).
//
// PSUBSCRIBE rather than a SUBSCRIBE per conversation: one pattern, subscribed once and again
// after each reconnection, so subscribe() never waits for Redis and a subscriber sees remote events
// from the moment it subscribes; no subscribe/unsubscribe churn (hiredis 0.14 mishandles a
// SUBSCRIBE racing an UNSUBSCRIBE of the same channel). The cost: every instance receives every
// conversation's events and drops those nobody local follows, a fine trade for a handful of
// instances; per-channel subscriptions are the change to make for dozens.
//
// When Redis is down, delivery is local only: failed publishes are counted and logged at most once
// per `warn_every`, and remote events resume once the client has reconnected and resubscribed
// (events published meanwhile are not replayed).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "events/bus.hpp"
#include "redis/client.hpp"

namespace parley::events {

struct RedisBusOptions {
    std::size_t max_queued = 1024;                // per local subscriber, as for the memory bus
    std::string channel_prefix = "parley:conv:";  // + conversation id
    std::string instance_id;                      // empty: a new UUID
    std::chrono::milliseconds warn_every{10'000};
    // Called once per event that could not be published to Redis (for /metrics). Any thread;
    // must not block.
    std::function<void()> on_failure;
};

class RedisBus final : public EventBus {
public:
    // Starts listening on `client` (its subscriber connection). `client` must outlive the bus.
    explicit RedisBus(redis::Client& client, RedisBusOptions options = {});
    ~RedisBus() override;
    RedisBus(const RedisBus&) = delete;
    RedisBus& operator=(const RedisBus&) = delete;

    // EventBus::publish: local subscribers at once, other instances through Redis. Thread-safe;
    // never blocks (the PUBLISH is sent from the client's thread).
    void publish(Event event) override;

    // EventBus::subscribe: local and remote events of the conversation, on `executor`.
    std::unique_ptr<Subscription> subscribe(
        const boost::asio::any_io_executor& executor, std::string conversation_id
    ) override;

    std::size_t subscribers() const override;

    // Always: a subscriber of another instance is not known here.
    bool listened(const std::string& /*conversation_id*/) const override { return true; }

    // This instance's id, the `origin` of what it publishes.
    const std::string& instance_id() const noexcept { return options_.instance_id; }

    // Events that could not be published to Redis, and remote messages that could not be read.
    std::uint64_t failures() const noexcept;

    // Counts and logs failures; shared with PUBLISH callbacks that may outlive the bus.
    struct Failures;

private:
    void on_message(std::string_view channel, std::string_view payload);

    redis::Client& client_;
    RedisBusOptions options_;
    std::unique_ptr<EventBus> local_;
    std::shared_ptr<Failures> failures_;
    redis::Client::Listener listener_;  // last: unregistered first, before local_ goes
};

std::unique_ptr<EventBus> make_redis_bus(redis::Client& client, RedisBusOptions options = {});

}  // namespace parley::events
