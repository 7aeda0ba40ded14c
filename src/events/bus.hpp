// What happens to a conversation, for other tabs and devices (GET …/events): a publish/subscribe
// bus keyed by conversation. In memory within one process now; the Redis bus of the scale-out
// set-up implements the same interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace parley::events {

struct Event {
    std::string conversation_id;
    std::string name;  // new_message, message.completed, title.updated, conversation.updated, …
    std::string data;  // a JSON document
};

class Subscription {
public:
    virtual ~Subscription() = default;

    // The next event, in publishing order; waits for one. Cancellable.
    virtual boost::asio::awaitable<Event> next() = 0;

    // How many events this subscriber lost because it fell too far behind.
    virtual std::uint64_t dropped() const noexcept = 0;
};

class EventBus {
public:
    virtual ~EventBus() = default;

    // Delivers `event` to every subscriber of its conversation. Thread-safe; never blocks.
    virtual void publish(Event event) = 0;

    // The events of `conversation_id` published from now on, delivered on `executor` (the
    // subscriber's). Unsubscribes when the subscription is destroyed.
    virtual std::unique_ptr<Subscription> subscribe(
        const boost::asio::any_io_executor& executor, std::string conversation_id
    ) = 0;

    // Subscribers now open, for /metrics.
    virtual std::size_t subscribers() const = 0;

    // Whether an event of `conversation_id` published now could reach a subscriber: a publisher
    // may skip building one that would not (issue 14: an answer's events cost two JSON documents
    // per turn, almost always with nobody listening). A subscriber that arrives a moment later
    // sees only the events published after it subscribed, whichever way this answered.
    virtual bool listened(const std::string& conversation_id) const = 0;
};

// Delivery within this process. A subscriber more than `max_queued` events behind loses the
// oldest.
std::unique_ptr<EventBus> make_memory_bus(std::size_t max_queued = 1024);

}  // namespace parley::events
