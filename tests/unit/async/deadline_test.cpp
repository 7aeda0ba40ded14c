// async::Deadline: the lazily re-armed deadline the router's watchdog and the HTTP client's read
// timeout share. It fires once the deadline passes, at the latest deadline set (a deadline moved
// later is waited for, one moved earlier re-arms the timer), never while suspended, and never
// after stop() or its destruction, even when its timer's handler was already queued.
#include "async/deadline.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace parley::async {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Runs `ioc` until `done` holds or `limit` passes.
template <class Done>
void run_until(asio::io_context& ioc, Done done, Clock::duration limit = 2s) {
    const auto end = Clock::now() + limit;
    while (!done() && Clock::now() < end) {
        ioc.restart();  // a run that ran out of work left it stopped
        ioc.run_one_for(2ms);
    }
}

// Runs `ioc` for `d`, even after an earlier run ran out of work.
void run_for(asio::io_context& ioc, Clock::duration d) {
    ioc.restart();
    ioc.run_for(d);
}

TEST(DeadlineTest, FiresOnceWhenTheDeadlinePasses) {
    asio::io_context ioc;
    int fired = 0;
    std::optional<Clock::time_point> at;
    Deadline d(ioc.get_executor(), [&] {
        ++fired;
        at = Clock::now();
    });
    const auto due = Clock::now() + 30ms;
    d.expires_at(due);
    EXPECT_FALSE(d.expired());
    run_until(ioc, [&] { return fired > 0; });
    ASSERT_EQ(fired, 1);
    EXPECT_GE(*at, due);
    EXPECT_TRUE(d.expired());
    run_for(ioc, 50ms);
    EXPECT_EQ(fired, 1);
}

TEST(DeadlineTest, ADeadlineMovedLaterIsWaitedFor) {
    asio::io_context ioc;
    std::optional<Clock::time_point> at;
    Deadline d(ioc.get_executor(), [&] { at = Clock::now(); });
    const auto start = Clock::now();
    d.expires_at(start + 20ms);
    // Pushed later several times before the first expiry: the timer fires early and waits again.
    for (int i = 0; i < 5; ++i) {
        d.expires_at(Clock::now() + 60ms);
        run_for(ioc, 10ms);
    }
    const auto due = d.expiry();
    run_until(ioc, [&] { return at.has_value(); });
    ASSERT_TRUE(at.has_value());
    EXPECT_GE(*at, due);
    EXPECT_GE(*at - start, 100ms);
}

TEST(DeadlineTest, ADeadlineMovedEarlierReArmsTheTimer) {
    asio::io_context ioc;
    std::optional<Clock::time_point> at;
    Deadline d(ioc.get_executor(), [&] { at = Clock::now(); });
    const auto start = Clock::now();
    d.expires_at(start + 10s);
    d.expires_at(start + 30ms);
    run_until(ioc, [&] { return at.has_value(); });
    ASSERT_TRUE(at.has_value());
    EXPECT_LT(*at - start, 1s);
}

TEST(DeadlineTest, ASuspendedDeadlineDoesNotFireUntilSetAgain) {
    asio::io_context ioc;
    int fired = 0;
    Deadline d(ioc.get_executor(), [&] { ++fired; });
    d.expires_at(Clock::now() + 20ms);
    d.suspend();
    run_for(ioc, 60ms);
    EXPECT_EQ(fired, 0);
    EXPECT_FALSE(d.expired());
    d.expires_at(Clock::now() + 20ms);
    run_until(ioc, [&] { return fired > 0; });
    EXPECT_EQ(fired, 1);
}

TEST(DeadlineTest, NothingFiresAfterStopOrDestructionEvenWithTheHandlerQueued) {
    asio::io_context ioc;
    int fired = 0;
    {
        Deadline d(ioc.get_executor(), [&] { ++fired; });
        d.expires_at(Clock::now() + 5ms);
        std::this_thread::sleep_for(20ms);  // the timer is due: its handler runs at the next poll
        d.stop();
        ioc.restart();
        ioc.poll();
        EXPECT_EQ(fired, 0);
        d.expires_at(Clock::now() + 5ms);  // usable again after stop()
        run_until(ioc, [&] { return fired > 0; });
        EXPECT_EQ(fired, 1);
    }
    {
        auto d = std::make_unique<Deadline>(ioc.get_executor(), [&] { ++fired; });
        d->expires_at(Clock::now() + 5ms);
        std::this_thread::sleep_for(20ms);
        d.reset();
        run_for(ioc, 30ms);
        EXPECT_EQ(fired, 1);
    }
}

}  // namespace
}  // namespace parley::async
