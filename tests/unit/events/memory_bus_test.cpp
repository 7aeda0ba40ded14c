// The in-memory event bus and the coroutine signals under it (async::Event, async::Notifier).
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "async/event.hpp"
#include "events/bus.hpp"
#include "support/run_awaitable.hpp"

namespace parley::events {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;  // NOLINT
using parley::testing::run_awaitable;

asio::awaitable<void> sleep_ms(int ms) {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
    co_await t.async_wait(asio::use_awaitable);
}

TEST(MemoryBusTest, SubscribersOfAConversationGetItsEventsInOrder) {
    const auto bus = make_memory_bus();
    const auto names = run_awaitable([&]() -> asio::awaitable<std::vector<std::string>> {
        const auto ex = co_await asio::this_coro::executor;
        auto a = bus->subscribe(ex, "c1");
        auto b = bus->subscribe(ex, "c1");
        auto other = bus->subscribe(ex, "c2");
        EXPECT_EQ(bus->subscribers(), 3U);
        bus->publish({"c1", "first", "{}"});
        bus->publish({"c1", "second", "{\"n\":2}"});
        std::vector<std::string> got;
        for (auto* sub : {a.get(), b.get()}) {
            got.push_back((co_await sub->next()).name);
            const auto e = co_await sub->next();
            got.push_back(e.name + e.data);
        }
        // c2's subscriber got nothing: waiting on it times out.
        const auto r = co_await (other->next() || sleep_ms(30));
        EXPECT_EQ(r.index(), 1U);
        co_return got;
    }());
    EXPECT_EQ(
        names, (std::vector<std::string>{"first", "second{\"n\":2}", "first", "second{\"n\":2}"})
    );
}

TEST(MemoryBusTest, DestroyingASubscriptionUnsubscribes) {
    const auto bus = make_memory_bus();
    run_awaitable([&]() -> asio::awaitable<int> {
        auto sub = bus->subscribe(co_await asio::this_coro::executor, "c1");
        EXPECT_EQ(bus->subscribers(), 1U);
        sub.reset();
        EXPECT_EQ(bus->subscribers(), 0U);
        bus->publish({"c1", "nobody", "{}"});  // no subscriber: nothing happens
        co_return 0;
    }());
}

// listened() is what lets a publisher skip building an event: true exactly while the
// conversation has a subscriber.
TEST(MemoryBusTest, AConversationIsListenedToWhileItHasASubscriber) {
    const auto bus = make_memory_bus();
    run_awaitable([&]() -> asio::awaitable<int> {
        EXPECT_FALSE(bus->listened("c1"));
        auto first = bus->subscribe(co_await asio::this_coro::executor, "c1");
        auto second = bus->subscribe(co_await asio::this_coro::executor, "c1");
        EXPECT_TRUE(bus->listened("c1"));
        EXPECT_FALSE(bus->listened("c2"));
        first.reset();
        EXPECT_TRUE(bus->listened("c1"));
        second.reset();
        EXPECT_FALSE(bus->listened("c1"));
        co_return 0;
    }());
}

TEST(MemoryBusTest, ASlowSubscriberLosesTheOldestEventsNotMemory) {
    const auto bus = make_memory_bus(3);
    const auto got = run_awaitable([&]() -> asio::awaitable<std::vector<std::string>> {
        auto sub = bus->subscribe(co_await asio::this_coro::executor, "c1");
        for (int i = 0; i < 5; ++i) {
            bus->publish({"c1", std::to_string(i), "{}"});
        }
        co_await sleep_ms(1);  // let the posted deliveries run
        std::vector<std::string> names;
        for (int i = 0; i < 3; ++i) {
            names.push_back((co_await sub->next()).name);
        }
        EXPECT_EQ(sub->dropped(), 2U);
        co_return names;
    }());
    EXPECT_EQ(got, (std::vector<std::string>{"2", "3", "4"}));
}

TEST(MemoryBusTest, DeliversToASubscriberOnAnotherThread) {
    const auto bus = make_memory_bus();
    asio::io_context subscriber_ctx;
    std::atomic<int> received{0};
    std::atomic<bool> subscribed{false};
    auto work = asio::make_work_guard(subscriber_ctx);
    std::unique_ptr<Subscription> sub;
    asio::co_spawn(
        subscriber_ctx,
        [&]() -> asio::awaitable<void> {
            sub = bus->subscribe(co_await asio::this_coro::executor, "c1");
            subscribed = true;
            for (int i = 0; i < 100; ++i) {
                const auto e = co_await sub->next();
                EXPECT_EQ(e.name, std::to_string(i));
                ++received;
            }
            work.reset();
        },
        asio::detached
    );
    std::thread subscriber([&] { subscriber_ctx.run(); });
    while (!subscribed) {
        std::this_thread::yield();
    }
    std::thread publisher([&] {
        for (int i = 0; i < 100; ++i) {
            bus->publish({"c1", std::to_string(i), "{}"});
        }
    });
    publisher.join();
    subscriber.join();
    sub.reset();
    EXPECT_EQ(received.load(), 100);
}

TEST(AsyncEventTest, WaitersWakeWhenSetAndLaterWaitsReturnAtOnce) {
    const auto order = run_awaitable([]() -> asio::awaitable<std::vector<int>> {
        const auto ex = co_await asio::this_coro::executor;
        async::Event event(ex);
        std::vector<int> seen;
        auto waiter = [&](int id) -> asio::awaitable<void> {
            co_await event.wait();
            seen.push_back(id);
        };
        auto setter = [&]() -> asio::awaitable<void> {
            co_await sleep_ms(5);
            seen.push_back(0);
            event.set();
        };
        co_await (waiter(1) && waiter(2) && setter());
        co_await event.wait();  // already set
        seen.push_back(3);
        co_return seen;
    }());
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(AsyncEventTest, ACancelledWaitLeavesTheEventUnset) {
    run_awaitable([]() -> asio::awaitable<int> {
        async::Event event(co_await asio::this_coro::executor);
        const auto r = co_await (event.wait() || sleep_ms(5));
        EXPECT_EQ(r.index(), 1U);
        EXPECT_FALSE(event.is_set());
        co_return 0;
    }());
}

TEST(AsyncNotifierTest, ANotifyBeforeTheWaitIsNotLost) {
    run_awaitable([]() -> asio::awaitable<int> {
        async::Notifier n(co_await asio::this_coro::executor);
        n.notify();
        co_await n.wait();                                  // returns at once
        const auto r = co_await (n.wait() || sleep_ms(5));  // consumed: waits again
        EXPECT_EQ(r.index(), 1U);
        co_return 0;
    }());
}

// The relay's timed wait: the turn's wake-up and the ping time share one timer.
TEST(AsyncNotifierTest, WaitUntilEndsAtTheTimeOrAtTheNotifyWhicheverComesFirst) {
    run_awaitable([]() -> asio::awaitable<int> {
        using Clock = std::chrono::steady_clock;
        const auto executor = co_await asio::this_coro::executor;
        async::Notifier n(executor);
        // Nobody notifies: false, not before the time.
        const auto due = Clock::now() + std::chrono::milliseconds(20);
        const bool timed = co_await n.wait_until(due);
        EXPECT_FALSE(timed);
        EXPECT_GE(Clock::now(), due);
        // A notify pending from before the wait: true at once.
        n.notify();
        const bool pending = co_await n.wait_until(Clock::now() + std::chrono::hours(1));
        EXPECT_TRUE(pending);
        // A notify during the wait: true, long before the time.
        asio::steady_timer later(executor, std::chrono::milliseconds(5));
        later.async_wait([&n](boost::system::error_code) { n.notify(); });
        const auto start = Clock::now();
        const bool woken = co_await n.wait_until(start + std::chrono::hours(1));
        EXPECT_TRUE(woken);
        EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
        // A wait after a timed one is not ended by the old time.
        const auto r = co_await (n.wait() || sleep_ms(30));
        EXPECT_EQ(r.index(), 1U);
        co_return 0;
    }());
}

// notify_inline() resumes the waiter before it returns (the relay writes a delta inside the
// provider's read handler); notify() resumes it later, from the event loop.
TEST(AsyncNotifierTest, NotifyInlineResumesTheWaiterBeforeItReturnsAndNotifyAfter) {
    run_awaitable([]() -> asio::awaitable<int> {
        const auto executor = co_await asio::this_coro::executor;
        async::Notifier n(executor);
        int woken = 0;
        asio::co_spawn(
            executor,
            [&]() -> asio::awaitable<void> {
                co_await n.wait();
                ++woken;
                co_await n.wait();
                ++woken;
            },
            asio::detached
        );
        co_await sleep_ms(1);  // the waiter is waiting
        EXPECT_EQ(woken, 0);
        n.notify_inline();
        EXPECT_EQ(woken, 1);  // already ran
        n.notify();
        EXPECT_EQ(woken, 1);  // not yet
        co_await sleep_ms(1);
        EXPECT_EQ(woken, 2);
        co_return 0;
    }());
}

// The timed wait re-arms its timer lazily: a wait with a later time after one with an earlier
// time (the timer still set for the earlier one) does not end at the earlier time.
TEST(AsyncNotifierTest, ALaterTimeAfterAnEarlierOneIsWaitedForInFull) {
    run_awaitable([]() -> asio::awaitable<int> {
        using Clock = std::chrono::steady_clock;
        const auto executor = co_await asio::this_coro::executor;
        async::Notifier n(executor);
        asio::steady_timer soon(executor, std::chrono::milliseconds(2));
        soon.async_wait([&n](boost::system::error_code) { n.notify(); });
        const bool first = co_await n.wait_until(Clock::now() + std::chrono::milliseconds(10));
        EXPECT_TRUE(first);  // notified at 2 ms; the timer stays set for 10 ms
        const auto due = Clock::now() + std::chrono::milliseconds(40);
        const bool second = co_await n.wait_until(due);
        EXPECT_FALSE(second);
        EXPECT_GE(Clock::now(), due);
        // An earlier time than the one the timer is set for re-arms it.
        asio::steady_timer again(executor, std::chrono::milliseconds(2));
        again.async_wait([&n](boost::system::error_code) { n.notify(); });
        const bool fourth = co_await n.wait_until(Clock::now() + std::chrono::hours(1));
        EXPECT_TRUE(fourth);  // the timer is now set an hour on
        const auto start = Clock::now();
        const bool fifth = co_await n.wait_until(start + std::chrono::milliseconds(20));
        EXPECT_FALSE(fifth);
        EXPECT_GE(Clock::now(), start + std::chrono::milliseconds(20));
        EXPECT_LT(Clock::now(), start + std::chrono::seconds(10));
        co_return 0;
    }());
}

}  // namespace
}  // namespace parley::events
