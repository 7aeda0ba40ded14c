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
