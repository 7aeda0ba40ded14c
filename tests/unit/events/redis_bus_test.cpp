// The Redis bus as two Parley instances see it: two buses on two clients (one per instance) on the
// same server. The fixture's server for delivery; a private one for the outage.
#include "events/redis_bus.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "common/ids.hpp"
#include "support/redis_server.hpp"
#include "support/run_awaitable.hpp"

namespace parley::events {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;  // NOLINT
using namespace std::chrono_literals;
using parley::testing::run_awaitable;

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

// The next event of `sub`, or an event named "timeout" after `limit`.
asio::awaitable<Event> next_or_timeout(Subscription& sub, std::chrono::milliseconds limit = 5s) {
    auto r = co_await (sub.next() || sleep_for(limit));
    if (r.index() == 0) {
        co_return std::get<0>(std::move(r));
    }
    co_return Event{"", "timeout", ""};
}

redis::ClientOptions client_options(const std::string& url) {
    redis::ClientOptions options;
    options.endpoint = redis::parse_url(url).value();
    options.reconnect_min = 20ms;
    options.reconnect_max = 200ms;
    return options;
}

RedisBusOptions bus_options(const std::string& prefix) {
    RedisBusOptions options;
    options.channel_prefix = prefix;
    return options;
}

// One Parley instance: its own client and bus. The instances of one test share a channel prefix
// of their own, so that tests running at the same time on the same server stay apart.
struct Instance {
    Instance(const std::string& url, const std::string& prefix)
        : client(client_options(url)),
          bus(client, bus_options(prefix)) {}

    redis::Client client;
    RedisBus bus;
};

class RedisBusTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto url = parley::testing::test_redis_url();
        if (!url) {
            GTEST_SKIP() << "PARLEY_TEST_REDIS_URL is not set";
        }
        a_ = std::make_unique<Instance>(*url, prefix_);
        b_ = std::make_unique<Instance>(*url, prefix_);
        ASSERT_TRUE(a_->client.wait_listening(5s));
        ASSERT_TRUE(b_->client.wait_listening(5s));
        ASSERT_TRUE(a_->client.wait_connected(5s));
        ASSERT_TRUE(b_->client.wait_connected(5s));
    }

    void TearDown() override {
        if (a_) {
            EXPECT_EQ(a_->bus.failures(), 0U);
            EXPECT_EQ(b_->bus.failures(), 0U);
        }
    }

    template <class T>
    T run(asio::awaitable<T> work) {
        return run_awaitable(ctx_, std::move(work));
    }

    std::string prefix_ = "test:" + new_uuid_v7() + ":conv:";
    std::string conversation_ = new_uuid_v7();
    // Subscribers' io_context: declared before the instances, so it outlives their deliveries.
    asio::io_context ctx_;
    std::unique_ptr<Instance> a_;
    std::unique_ptr<Instance> b_;
};

TEST_F(RedisBusTest, ASubscriberOnOneInstanceGetsWhatAnotherPublishes) {
    const auto got = run([&]() -> asio::awaitable<Event> {
        auto sub = a_->bus.subscribe(co_await asio::this_coro::executor, conversation_);
        EXPECT_EQ(a_->bus.subscribers(), 1U);
        EXPECT_EQ(b_->bus.subscribers(), 0U);
        // B has no subscriber of its own, yet A's must hear it: B cannot skip the event.
        EXPECT_TRUE(b_->bus.listened(conversation_));
        // Data travels byte for byte: quotes, escapes, non-ASCII.
        b_->bus.publish({conversation_, "new_message", R"({"text":"h\u00e9 \"x\"\n","n":1.50})"});
        co_return co_await next_or_timeout(*sub);
    }());
    EXPECT_EQ(got.conversation_id, conversation_);
    EXPECT_EQ(got.name, "new_message");
    EXPECT_EQ(got.data, R"({"text":"h\u00e9 \"x\"\n","n":1.50})");
}

TEST_F(RedisBusTest, OtherConversationsStayOut) {
    const auto got = run([&]() -> asio::awaitable<std::string> {
        auto sub = a_->bus.subscribe(co_await asio::this_coro::executor, conversation_);
        b_->bus.publish({conversation_ + "-other", "elsewhere", "{}"});
        b_->bus.publish({conversation_, "here", "{}"});
        co_return (co_await next_or_timeout(*sub)).name;
    }());
    EXPECT_EQ(got, "here");
}

// A's own event comes back from Redis too; it must not be delivered twice. Once B's subscriber has
// X from Redis, Redis has also sent X to A; B's Y, published after, reaches A after that echo, so
// an undropped echo would show up on A before Y.
TEST_F(RedisBusTest, LocalSubscribersGetLocalEventsOnceAndWithoutARoundTrip) {
    const auto names = run([&]() -> asio::awaitable<std::vector<std::string>> {
        const auto ex = co_await asio::this_coro::executor;
        auto on_a = a_->bus.subscribe(ex, conversation_);
        auto on_b = b_->bus.subscribe(ex, conversation_);
        a_->bus.publish({conversation_, "x", "{}"});
        std::vector<std::string> seen;
        seen.push_back("a:" + (co_await next_or_timeout(*on_a)).name);
        seen.push_back("b:" + (co_await next_or_timeout(*on_b)).name);
        b_->bus.publish({conversation_, "y", "{}"});
        seen.push_back("b:" + (co_await next_or_timeout(*on_b)).name);
        seen.push_back("a:" + (co_await next_or_timeout(*on_a)).name);
        co_return seen;
    }());
    EXPECT_EQ(names, (std::vector<std::string>{"a:x", "b:x", "b:y", "a:y"}));
}

TEST_F(RedisBusTest, MalformedMessagesOnTheChannelAreSkippedAndCounted) {
    const auto got = run([&]() -> asio::awaitable<std::string> {
        auto sub = a_->bus.subscribe(co_await asio::this_coro::executor, conversation_);
        // Built first: g++ 12 cannot compile a braced list inside a co_await expression.
        std::vector<std::string> garbage{"PUBLISH", prefix_ + conversation_, "not json"};
        std::vector<std::string> no_data{
            "PUBLISH", prefix_ + conversation_, R"({"name":"x","origin":"z"})"};
        co_await b_->client.command(std::move(garbage));
        co_await b_->client.command(std::move(no_data));
        b_->bus.publish({conversation_, "fine", "{}"});
        co_return (co_await next_or_timeout(*sub)).name;
    }());
    EXPECT_EQ(got, "fine");
    EXPECT_EQ(a_->bus.failures(), 2U);
    a_.reset();  // counted on purpose: not for TearDown's check
    b_.reset();
}

TEST(RedisBusOutageTest, LocalDeliveryGoesOnWhileRedisIsDownAndRemoteResumesAfter) {
    parley::testing::TempRedis server;
    asio::io_context ctx;  // outlives the instances' deliveries
    const std::string prefix = "parley:conv:";
    Instance a(server.url(), prefix);
    Instance b(server.url(), prefix);
    ASSERT_TRUE(a.client.wait_listening(5s));
    ASSERT_TRUE(b.client.wait_listening(5s));
    ASSERT_TRUE(b.client.wait_connected(5s));
    const std::string conversation = new_uuid_v7();

    std::vector<std::string> seen;
    run_awaitable(ctx, [&]() -> asio::awaitable<int> {
        auto s = a.bus.subscribe(co_await asio::this_coro::executor, conversation);
        b.bus.publish({conversation, "before", "{}"});
        seen.push_back((co_await next_or_timeout(*s)).name);

        server.stop();
        while (a.client.listening() || b.client.connected()) {
            co_await sleep_for(10ms);
        }
        a.bus.publish({conversation, "during", "{}"});  // local only, at once
        seen.push_back((co_await next_or_timeout(*s)).name);
        b.bus.publish({conversation, "lost", "{}"});  // nowhere to go: counted
        co_await sleep_for(20ms);

        server.start();
        while (!a.client.listening() || !b.client.connected()) {
            co_await sleep_for(10ms);
        }
        b.bus.publish({conversation, "after", "{}"});
        seen.push_back((co_await next_or_timeout(*s)).name);
        co_return 0;
    }());
    EXPECT_EQ(seen, (std::vector<std::string>{"before", "during", "after"}));
    EXPECT_GE(a.bus.failures(), 1U);
    EXPECT_GE(b.bus.failures(), 1U);
}

}  // namespace
}  // namespace parley::events
