#include "system/health.hpp"

#include <atomic>
#include <thread>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "http/request.hpp"
#include "support/run_awaitable.hpp"
#include "system/routes.hpp"

namespace parley::system {
namespace {

// A database check whose result the test controls, counting the checks.
struct FakeDatabase {
    HealthMonitor::Check check() {
        return [this]() -> boost::asio::awaitable<Result<void>> {
            ++pings;
            if (healthy) {
                co_return Result<void>{};
            }
            co_return make_error(ErrorType::overloaded, "database unavailable");
        };
    }

    std::atomic<bool> healthy{true};
    std::atomic<int> pings{0};
};

TEST(HealthTest, HealthyDatabaseGives200) {
    FakeDatabase store;
    HealthMonitor monitor(store.check(), std::chrono::milliseconds(0));
    http::Request req(http::Method::get, "/health", {}, "");
    const auto res = testing::run_awaitable(health(req, monitor));
    EXPECT_EQ(res.status, 200);
    const auto body = boost::json::parse(res.body).as_object();
    EXPECT_EQ(body.at("status").as_string(), "ok");
    EXPECT_EQ(body.at("checks").at("database").as_string(), "ok");
    EXPECT_TRUE(body.at("version").is_string());
    EXPECT_TRUE(body.at("uptime_s").is_int64());
}

TEST(HealthTest, FailingDatabaseGives503StructuredError) {
    FakeDatabase store;
    store.healthy = false;
    HealthMonitor monitor(store.check(), std::chrono::milliseconds(0));
    http::Request req(http::Method::get, "/health", {}, "");
    req.set_request_id("req-1");
    const auto res = testing::run_awaitable(health(req, monitor));
    EXPECT_EQ(res.status, 503);
    const auto body = boost::json::parse(res.body).as_object();
    EXPECT_EQ(body.at("status").as_string(), "error");
    EXPECT_EQ(body.at("error").at("type").as_string(), "overloaded_error");
    EXPECT_EQ(body.at("error").at("request_id").as_string(), "req-1");
    EXPECT_EQ(body.at("checks").at("database").as_string(), "error");
}

TEST(HealthTest, ResultIsCachedThenRechecked) {
    FakeDatabase store;
    HealthMonitor monitor(store.check(), std::chrono::milliseconds(200));
    EXPECT_TRUE(testing::run_awaitable(monitor.database_ok()));
    EXPECT_TRUE(testing::run_awaitable(monitor.database_ok()));
    EXPECT_EQ(store.pings.load(), 1) << "second call within the cache window must not ping";

    store.healthy = false;
    EXPECT_TRUE(testing::run_awaitable(monitor.database_ok())) << "still cached";
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    EXPECT_FALSE(testing::run_awaitable(monitor.database_ok())) << "stale cache must recheck";
    EXPECT_EQ(store.pings.load(), 2);
}

}  // namespace
}  // namespace parley::system
