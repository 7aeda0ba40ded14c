#include <deque>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <boost/asio/post.hpp>

#include "async/event.hpp"
#include "events/bus.hpp"

namespace parley::events {

namespace asio = boost::asio;

namespace {

// One subscriber's queue; touched only on its executor (publishers post to it).
struct Inbox {
    Inbox(const asio::any_io_executor& ex, std::size_t max)
        : executor(ex),
          ready(ex),
          max_queued(max) {}

    void push(Event e) {
        if (queue.size() >= max_queued) {
            queue.pop_front();
            ++dropped;
        }
        queue.push_back(std::move(e));
        ready.notify();
    }

    asio::any_io_executor executor;
    std::deque<Event> queue;
    async::Notifier ready;
    std::size_t max_queued;
    std::uint64_t dropped = 0;
};

class MemoryBus;

class MemorySubscription final : public Subscription {
public:
    MemorySubscription(MemoryBus& bus, std::string conversation_id, std::shared_ptr<Inbox> inbox)
        : bus_(bus),
          conversation_id_(std::move(conversation_id)),
          inbox_(std::move(inbox)) {}

    ~MemorySubscription() override;
    MemorySubscription(const MemorySubscription&) = delete;
    MemorySubscription& operator=(const MemorySubscription&) = delete;

    asio::awaitable<Event> next() override {
        while (inbox_->queue.empty()) {
            co_await inbox_->ready.wait();
        }
        Event e = std::move(inbox_->queue.front());
        inbox_->queue.pop_front();
        co_return e;
    }

    std::uint64_t dropped() const noexcept override { return inbox_->dropped; }

private:
    MemoryBus& bus_;
    std::string conversation_id_;
    std::shared_ptr<Inbox> inbox_;
};

class MemoryBus final : public EventBus {
public:
    explicit MemoryBus(std::size_t max_queued) : max_queued_(max_queued) {}

    void publish(Event event) override {
        std::vector<std::shared_ptr<Inbox>> targets;
        {
            const std::lock_guard lock(mutex_);
            const auto [begin, end] = subscribers_.equal_range(event.conversation_id);
            for (auto it = begin; it != end; ++it) {
                targets.push_back(it->second);
            }
        }
        for (std::size_t i = 0; i < targets.size(); ++i) {
            auto& inbox = targets[i];
            // The last target may take the event; the others get copies.
            Event copy = i + 1 == targets.size() ? std::move(event) : event;
            asio::post(inbox->executor, [inbox, e = std::move(copy)]() mutable {
                inbox->push(std::move(e));
            });
        }
    }

    std::unique_ptr<Subscription> subscribe(
        const asio::any_io_executor& executor, std::string conversation_id
    ) override {
        auto inbox = std::make_shared<Inbox>(executor, max_queued_);
        {
            const std::lock_guard lock(mutex_);
            subscribers_.emplace(conversation_id, inbox);
        }
        return std::make_unique<MemorySubscription>(*this, std::move(conversation_id), inbox);
    }

    std::size_t subscribers() const override {
        const std::lock_guard lock(mutex_);
        return subscribers_.size();
    }

    bool listened(const std::string& conversation_id) const override {
        const std::lock_guard lock(mutex_);
        return subscribers_.contains(conversation_id);
    }

    void unsubscribe(const std::string& conversation_id, const Inbox* inbox) {
        const std::lock_guard lock(mutex_);
        const auto [begin, end] = subscribers_.equal_range(conversation_id);
        for (auto it = begin; it != end; ++it) {
            if (it->second.get() == inbox) {
                subscribers_.erase(it);
                return;
            }
        }
    }

private:
    std::size_t max_queued_;
    mutable std::mutex mutex_;
    std::unordered_multimap<std::string, std::shared_ptr<Inbox>> subscribers_;
};

MemorySubscription::~MemorySubscription() {
    bus_.unsubscribe(conversation_id_, inbox_.get());
}

}  // namespace

std::unique_ptr<EventBus> make_memory_bus(std::size_t max_queued) {
    return std::make_unique<MemoryBus>(max_queued);
}

}  // namespace parley::events
