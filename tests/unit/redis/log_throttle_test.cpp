#include "redis/log_throttle.hpp"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace parley::redis {
namespace {

using namespace std::chrono_literals;

TEST(LogThrottleTest, OneLinePerIntervalWithTheCountLeftOut) {
    LogThrottle throttle(50ms);
    const auto first = throttle.allow();
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, 0U);
    EXPECT_FALSE(throttle.allow());
    EXPECT_FALSE(throttle.allow());
    std::this_thread::sleep_for(60ms);
    const auto next = throttle.allow();
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, 2U);
    EXPECT_FALSE(throttle.allow());
}

}  // namespace
}  // namespace parley::redis
