#include "common/time.hpp"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(TimeTest, RoundTripsWithMilliseconds) {
    const auto t = parse_iso8601("2026-11-25T12:34:56.789Z");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(to_iso8601(*t), "2026-11-25T12:34:56.789Z");
    EXPECT_EQ(to_unix_seconds(*parse_iso8601("1970-01-01T00:00:00Z")), 0);
}

TEST(TimeTest, FormatsEveryFieldWithItsWidth) {
    using namespace std::chrono;
    const TimePoint early =
        sys_days{January / 2 / 1970} + hours(3) + minutes(4) + seconds(5) + milliseconds(6);
    EXPECT_EQ(to_iso8601(early), "1970-01-02T03:04:05.006Z");
    const TimePoint late = sys_days{December / 31 / 2199} + hours(23) + minutes(59) + seconds(59) +
                           milliseconds(999) + microseconds(999);
    EXPECT_EQ(to_iso8601(late), "2199-12-31T23:59:59.999Z") << "sub-millisecond part truncated";
    EXPECT_EQ(to_iso8601(TimePoint{}), "1970-01-01T00:00:00.000Z");
}

TEST(TimeTest, AppliesOffsets) {
    EXPECT_EQ(to_iso8601(*parse_iso8601("2026-11-25T14:00:00+02:00")), "2026-11-25T12:00:00.000Z");
    EXPECT_EQ(to_iso8601(*parse_iso8601("2026-11-25T10:30:00-01:30")), "2026-11-25T12:00:00.000Z");
}

TEST(TimeTest, RejectsMalformedAndOutOfRange) {
    for (const char* text :
         {"",
          "2026-11-25",
          "2026-13-01T00:00:00Z",
          "2026-02-30T00:00:00Z",
          "2026-11-25T24:00:00Z",
          "2026-11-25T12:00:00",
          "2026-11-25T12:00:00.Z",
          "2026-11-25T12:00:00+2:00",
          // outside 1970–2200: the nanosecond clock overflows past 2262
          "2999-01-01T00:00:00Z",
          "0001-01-01T00:00:00Z",
          "1969-12-31T23:59:59Z"}) {
        EXPECT_FALSE(parse_iso8601(text).has_value()) << text;
    }
    EXPECT_TRUE(parse_iso8601("2200-12-31T23:59:59Z").has_value());
}

}  // namespace
}  // namespace parley
