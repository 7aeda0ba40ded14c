// The Redis client against real servers: the fixture's (PARLEY_TEST_REDIS_URL) and private ones
// that the tests stop and restart.
#include "redis/client.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "common/ids.hpp"
#include "support/redis_server.hpp"
#include "support/run_awaitable.hpp"

namespace parley::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using parley::testing::run_awaitable;
using parley::testing::TempRedis;

ClientOptions options_for(const std::string& url) {
    auto endpoint = parse_url(url);
    if (!endpoint) {
        throw std::runtime_error("bad test URL " + url);
    }
    ClientOptions options;
    options.endpoint = *endpoint;
    options.name = "test";
    options.reconnect_min = 20ms;
    options.reconnect_max = 200ms;
    return options;
}

Result<Reply> run_command(Client& client, std::vector<std::string> args) {
    return run_awaitable(client.command(std::move(args)));
}

// Polls `condition` every 10 ms for at most `limit`.
template <class F>
bool eventually(F condition, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

class RedisClientTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto url = parley::testing::test_redis_url();
        if (!url) {
            GTEST_SKIP() << "PARLEY_TEST_REDIS_URL is not set";
        }
        url_ = *url;
        prefix_ = "test:" + new_uuid_v7() + ":";
    }

    std::string url_;
    std::string prefix_;  // keys of this test only: tests may share the server concurrently
};

TEST_F(RedisClientTest, RoundTripsBinarySafeValuesAndReturnsErrorReplies) {
    Client client(options_for(url_));
    ASSERT_TRUE(client.wait_connected(5s));
    const std::string value("a\0b\r\nc", 6);
    auto r = run_command(client, {"SET", prefix_ + "k", value});
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->type, Reply::Type::status);
    EXPECT_EQ(r->str, "OK");

    r = run_command(client, {"GET", prefix_ + "k"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->type, Reply::Type::string);
    EXPECT_EQ(r->str, value);

    r = run_command(client, {"GET", prefix_ + "missing"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->type, Reply::Type::nil);

    r = run_command(client, {"RPUSH", prefix_ + "list", "x", "y"});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->type, Reply::Type::integer);
    EXPECT_EQ(r->integer, 2);
    r = run_command(client, {"LRANGE", prefix_ + "list", "0", "-1"});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->elements.size(), 2U);
    EXPECT_EQ(r->elements[1].str, "y");

    // An error reply is a reply, not a failure: the caller decides (NOSCRIPT → EVAL).
    r = run_command(client, {"EVALSHA", std::string(40, '0'), "0"});
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->is_error("NOSCRIPT")) << r->str;
    EXPECT_FALSE(r->is_error("NOSCRIP"));
    run_command(client, {"DEL", prefix_ + "k", prefix_ + "list"});
}

TEST_F(RedisClientTest, ServesCoroutinesOnManyIoContextsAtOnce) {
    // Every command must succeed; how fast is not the point: 800 commands at once on a loaded
    // 2-core machine (sanitizers, -j2) have taken over the default second (CI saw 664 of 800).
    auto options = options_for(url_);
    options.command_timeout = 10s;
    Client client(options);
    ASSERT_TRUE(client.wait_connected(5s));
    constexpr int kThreads = 4;
    constexpr int kPerThread = 200;
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            asio::io_context ctx;
            for (int i = 0; i < kPerThread; ++i) {
                asio::co_spawn(
                    ctx,
                    [&client, key = prefix_ + "n"]() {
                        return client.command({"INCR", key});
                    },
                    [&ok](std::exception_ptr e, Result<Reply> r) {
                        if (!e && r && r->type == Reply::Type::integer) {
                            ++ok;
                        }
                    }
                );
            }
            ctx.run();
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(ok.load(), kThreads * kPerThread);
    const auto n = run_command(client, {"GET", prefix_ + "n"});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->str, std::to_string(kThreads * kPerThread));
    run_command(client, {"DEL", prefix_ + "n"});
}

TEST_F(RedisClientTest, ACommandWithoutAReplyTimesOut) {
    auto options = options_for(url_);
    options.command_timeout = 150ms;
    Client client(options);
    Client other(options_for(url_));
    ASSERT_TRUE(client.wait_connected(5s));
    ASSERT_TRUE(other.wait_connected(5s));
    // CLIENT PAUSE holds every client's commands (for 1 s): ours gets no reply in time.
    ASSERT_TRUE(run_command(other, {"CLIENT", "PAUSE", "1000", "ALL"}));
    const auto start = std::chrono::steady_clock::now();
    const auto r = run_command(client, {"PING"});
    EXPECT_FALSE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);
    run_command(other, {"CLIENT", "UNPAUSE"});
    // The late reply lands on an abandoned request; the connection carries on.
    EXPECT_TRUE(eventually([&] {
        const auto again = run_command(client, {"PING"});
        return again && again->str == "PONG";
    }));
}

TEST(RedisClientOutageTest, FailsAtOnceWhileDownAndReconnectsWhenTheServerReturns) {
    TempRedis server;
    Client client(options_for(server.url()));
    ASSERT_TRUE(client.wait_connected(5s));
    ASSERT_TRUE(run_command(client, {"SET", "k", "1"}));

    server.stop();
    ASSERT_TRUE(eventually([&] { return !client.connected(); }));
    const auto start = std::chrono::steady_clock::now();
    const auto r = run_command(client, {"GET", "k"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().type, ErrorType::overloaded);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);  // nothing waits for Redis

    server.start();
    ASSERT_TRUE(client.wait_connected(10s));
    const auto back = run_command(client, {"PING"});
    ASSERT_TRUE(back);
    EXPECT_EQ(back->str, "PONG");
}

TEST(RedisClientOutageTest, UnreachableAtStartIsRetriedInTheBackground) {
    TempRedis server;
    server.stop();
    Client client(options_for(server.url()));
    EXPECT_FALSE(client.wait_connected(100ms));
    EXPECT_FALSE(run_command(client, {"PING"}));
    server.start();
    EXPECT_TRUE(client.wait_connected(10s));
    EXPECT_TRUE(run_command(client, {"PING"}));
}

TEST(RedisClientOutageTest, ListenersGetMessagesAndAreResubscribedAfterAnOutage) {
    TempRedis server;
    Client publisher(options_for(server.url()));
    Client subscriber(options_for(server.url()));
    std::mutex mutex;
    std::vector<std::string> got;
    auto listener = subscriber.listen("chan:*", [&](std::string_view channel, std::string_view p) {
        const std::lock_guard lock(mutex);
        got.push_back(std::string(channel) + "=" + std::string(p));
    });
    const auto received = [&] {
        const std::lock_guard lock(mutex);
        return got;
    };
    ASSERT_TRUE(subscriber.wait_listening(5s));
    ASSERT_TRUE(publisher.wait_connected(5s));
    auto n = run_command(publisher, {"PUBLISH", "chan:1", "one"});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->integer, 1);  // one subscriber: ours
    run_command(publisher, {"PUBLISH", "other:1", "ignored"});
    ASSERT_TRUE(eventually([&] { return received().size() == 1; }));
    EXPECT_EQ(received()[0], "chan:1=one");

    server.stop();
    ASSERT_TRUE(eventually([&] { return !subscriber.listening(); }));
    server.start();
    ASSERT_TRUE(subscriber.wait_listening(10s));
    ASSERT_TRUE(publisher.wait_connected(10s));
    n = run_command(publisher, {"PUBLISH", "chan:2", "two"});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->integer, 1);
    ASSERT_TRUE(eventually([&] { return received().size() == 2; }));
    EXPECT_EQ(received()[1], "chan:2=two");

    // Once the listener is gone, its handler is never called again.
    listener.reset();
    run_command(publisher, {"PUBLISH", "chan:3", "three"});
    run_command(publisher, {"PING"});
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(received().size(), 2U);
}

TEST(RedisClientOutageTest, ClosingWithCommandsInFlightCompletesThem) {
    TempRedis server;
    auto client = std::make_unique<Client>(options_for(server.url()));
    ASSERT_TRUE(client->wait_connected(5s));
    asio::io_context ctx;
    std::atomic<int> done{0};
    for (int i = 0; i < 50; ++i) {
        asio::co_spawn(
            ctx,
            [&client]() { return client->command({"PING"}); },
            [&done](std::exception_ptr, Result<Reply>) { ++done; }
        );
    }
    std::thread runner([&] { ctx.run(); });
    client->close();
    runner.join();
    EXPECT_EQ(done.load(), 50);
    EXPECT_FALSE(run_command(*client, {"PING"}));
}

}  // namespace
}  // namespace parley::redis
