// Session leases in Redis as two Parley instances see them: two clients (one per instance) on the
// fixture's server, each test on names of its own.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "common/ids.hpp"
#include "events/session_locks.hpp"
#include "redis/client.hpp"
#include "support/redis_server.hpp"
#include "support/run_awaitable.hpp"

namespace parley::events {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using parley::testing::run_awaitable;

redis::ClientOptions client_options(const std::string& url) {
    redis::ClientOptions options;
    options.endpoint = redis::parse_url(url).value();
    return options;
}

class SessionLocksTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto url = parley::testing::test_redis_url();
        if (!url) {
            GTEST_SKIP() << "PARLEY_TEST_REDIS_URL is not set";
        }
        a_client_ = std::make_unique<redis::Client>(client_options(*url));
        b_client_ = std::make_unique<redis::Client>(client_options(*url));
        ASSERT_TRUE(a_client_->wait_connected(5s));
        ASSERT_TRUE(b_client_->wait_connected(5s));
        a_ = make_redis_session_locks(*a_client_, prefix_);
        b_ = make_redis_session_locks(*b_client_, prefix_);
    }

    bool acquire(SessionLocks& locks, const std::string& owner, std::chrono::milliseconds ttl = 5s) {
        return run_awaitable(ctx_, locks.acquire("conv-1", owner, ttl));
    }

    // Waits until `owner` gets the lease through `locks` (release() does not wait), at most 2 s.
    bool acquire_eventually(SessionLocks& locks, const std::string& owner) {
        for (int i = 0; i < 100; ++i) {
            if (acquire(locks, owner)) {
                return true;
            }
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }

    std::string prefix_ = "parley:test:lease:" + new_uuid_v7() + ":";
    asio::io_context ctx_;
    std::unique_ptr<redis::Client> a_client_;
    std::unique_ptr<redis::Client> b_client_;
    std::unique_ptr<SessionLocks> a_;
    std::unique_ptr<SessionLocks> b_;
};

TEST_F(SessionLocksTest, OneOwnerAtATimeAcrossInstances) {
    EXPECT_TRUE(acquire(*a_, "socket-a"));
    EXPECT_FALSE(acquire(*b_, "socket-b"));
    EXPECT_TRUE(acquire(*a_, "socket-a")) << "the holder renews its own lease";
    EXPECT_FALSE(acquire(*a_, "socket-c")) << "another socket on the same instance is refused too";
}

TEST_F(SessionLocksTest, ReleaseLetsTheNextOwnerInAndNeverFreesAnotherOwnersLease) {
    ASSERT_TRUE(acquire(*a_, "socket-a"));
    b_->release("conv-1", "socket-b");  // not the holder: nothing happens
    std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(acquire(*b_, "socket-b"));
    a_->release("conv-1", "socket-a");
    EXPECT_TRUE(acquire_eventually(*b_, "socket-b"));
    EXPECT_FALSE(acquire(*a_, "socket-a"));
}

TEST_F(SessionLocksTest, ALeaseLapsesAfterItsTimeToLive) {
    ASSERT_TRUE(acquire(*a_, "socket-a", 200ms));  // then its instance "crashes": no renewal
    EXPECT_FALSE(acquire(*b_, "socket-b"));
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(acquire(*b_, "socket-b"));
}

TEST_F(SessionLocksTest, RenewalKeepsALeasePastItsFirstTimeToLive) {
    ASSERT_TRUE(acquire(*a_, "socket-a", 300ms));
    for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(100ms);
        ASSERT_TRUE(acquire(*a_, "socket-a", 300ms));
    }
    EXPECT_FALSE(acquire(*b_, "socket-b"));
}

TEST(SessionLocksDown, AnUnreachableRedisAllowsTheSession) {
    redis::ClientOptions options;
    options.endpoint = redis::parse_url("redis://127.0.0.1:1").value();
    options.connect_timeout = 100ms;
    redis::Client client(options);
    auto locks = make_redis_session_locks(client, "parley:test:down:");
    asio::io_context ctx;
    EXPECT_TRUE(run_awaitable(ctx, locks->acquire("conv", "socket", 1s)));
    client.close();
}

}  // namespace
}  // namespace parley::events
