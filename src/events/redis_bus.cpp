#include "events/redis_bus.hpp"

#include <atomic>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/ids.hpp"
#include "common/log.hpp"
#include "redis/log_throttle.hpp"

namespace parley::events {

namespace bj = boost::json;

struct RedisBus::Failures {
    Failures(std::chrono::milliseconds warn_every, std::function<void()> callback)
        : warnings(warn_every),
          on_failure(std::move(callback)) {}

    void record(std::string_view what, std::string_view why) {
        count.fetch_add(1, std::memory_order_relaxed);
        if (on_failure) {
            on_failure();
        }
        if (const auto suppressed = warnings.allow()) {
            log::warn(what, {{"error", why}, {"suppressed_since_last", *suppressed}});
        }
    }

    std::atomic<std::uint64_t> count{0};
    redis::LogThrottle warnings;
    std::function<void()> on_failure;
};

RedisBus::RedisBus(redis::Client& client, RedisBusOptions options)
    : client_(client),
      options_(std::move(options)),
      local_(make_memory_bus(options_.max_queued)),
      failures_(std::make_shared<Failures>(options_.warn_every, options_.on_failure)) {
    if (options_.instance_id.empty()) {
        options_.instance_id = new_uuid_v7();
    }
    listener_ = client_.listen(
        options_.channel_prefix + "*",
        [this](std::string_view channel, std::string_view payload) { on_message(channel, payload); }
    );
}

RedisBus::~RedisBus() {
    // Waits for a message being handed on by the client's thread.
    listener_.reset();
}

void RedisBus::publish(Event event) {
    std::string channel = options_.channel_prefix + event.conversation_id;
    std::string payload = bj::serialize(bj::object{
        {"name", event.name},
        {"data", event.data},
        {"origin", options_.instance_id},
    });
    local_->publish(std::move(event));
    client_.send(
        {"PUBLISH", std::move(channel), std::move(payload)},
        [failures = failures_](Result<redis::Reply> r) {
            constexpr std::string_view kWhat =
                "event not published to redis: delivered on this instance only";
            if (!r) {
                failures->record(kWhat, r.error().detail);
            } else if (r->is_error()) {
                failures->record(kWhat, r->str);
            }
        }
    );
}

void RedisBus::on_message(std::string_view channel, std::string_view payload) {
    if (!channel.starts_with(options_.channel_prefix)) {
        return;
    }
    boost::system::error_code ec;
    const bj::value doc = bj::parse(payload, ec);
    const auto* o = ec ? nullptr : doc.if_object();
    const auto* name = o != nullptr ? o->if_contains("name") : nullptr;
    const auto* data = o != nullptr ? o->if_contains("data") : nullptr;
    const auto* origin = o != nullptr ? o->if_contains("origin") : nullptr;
    if (name == nullptr || !name->is_string() || data == nullptr || !data->is_string() ||
        origin == nullptr || !origin->is_string()) {
        failures_->record("malformed event from redis ignored", channel);
        return;
    }
    if (origin->get_string() == options_.instance_id) {
        return;  // already delivered locally when it was published
    }
    local_->publish(Event{
        std::string(channel.substr(options_.channel_prefix.size())),
        std::string(name->get_string()),
        std::string(data->get_string()),
    });
}

std::uint64_t RedisBus::failures() const noexcept {
    return failures_->count.load(std::memory_order_relaxed);
}

std::unique_ptr<Subscription> RedisBus::subscribe(
    const boost::asio::any_io_executor& executor, std::string conversation_id
) {
    return local_->subscribe(executor, std::move(conversation_id));
}

std::size_t RedisBus::subscribers() const {
    return local_->subscribers();
}

std::unique_ptr<EventBus> make_redis_bus(redis::Client& client, RedisBusOptions options) {
    return std::make_unique<RedisBus>(client, std::move(options));
}

}  // namespace parley::events
